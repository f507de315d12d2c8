// The device names the engine accepts, without loading the engine: the
// command line checks --device with them before anything else happens.

/** `cpu`, `cuda`, `cuda:N` (a GPU index) or `auto` (cuda when this libtorch has it, else cpu). */
export const DEVICE_NAMES_HELP = 'cpu, cuda, cuda:N or auto';

export function isDeviceName(name: string): boolean {
  return /^(cpu|auto|cuda(:\d+)?)$/.test(name);
}
