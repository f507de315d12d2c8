#!/usr/bin/env node
// The `autodropout` command line.
import { Command, CommanderError } from 'commander';
import { DataError } from '../data/errors.js';
import { existingDirectory, UsageError } from './args.js';

async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof UsageError || e instanceof RangeError) {
      process.stderr.write(`autodropout: ${e.message}\n(run with --help for usage)\n`);
      return 2;
    }
    if (e instanceof DataError && e.option !== undefined) {
      // A value the data cannot satisfy (e.g. valSize above the training set): the flag that gave it is at fault.
      const flag = `--${e.option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      process.stderr.write(`autodropout: ${e.message.replace(new RegExp(`\\b${e.option}\\b`, 'g'), flag)}\n(run with --help for usage)\n`);
      return 2;
    }
    // Engine or data problems: the message already says what to do.
    process.stderr.write(`autodropout: ${(e as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const program = new Command('autodropout')
    .description('AutoDropout: learn structured dropout patterns (Pham & Le, AAAI 2021), on libtorch')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const { trainCommand } = await import('./train.js');
  program.addCommand(trainCommand().exitOverride().showHelpAfterError('(run autodropout train --help for usage)'));
  program.addCommand((await import('./show.js')).showCommand().exitOverride().showHelpAfterError('(run autodropout show --help for usage)'));
  const search = await import('./search.js');
  for (const make of [search.searchCommand, search.statusCommand, search.exportCommand, search.replayCommand, search.workerCommand]) {
    const cmd = make().exitOverride();
    program.addCommand(cmd.showHelpAfterError(`(run autodropout ${cmd.name()} --help for usage)`));
  }
  const compare = await import('./compare.js');
  for (const make of [compare.compareCommand, compare.reportCommand]) {
    const cmd = make().exitOverride();
    program.addCommand(cmd.showHelpAfterError(`(run autodropout ${cmd.name()} --help for usage)`));
  }
  program.addCommand((await import('./dashboard.js')).dashboardCommand().exitOverride().showHelpAfterError('(run autodropout dashboard --help for usage)'));
  program.addCommand((await import('./demo.js')).demoCommand().exitOverride().showHelpAfterError('(run autodropout demo --help for usage)'));
  program.addCommand(
    new Command('doctor')
      .description('check the native engine: libtorch, BLAS, threads, devices, a self-test, data')
      .option('--json', 'print the report as JSON')
      .option('--data-dir <dir>', 'directory searched first for every dataset (as train --data-dir)', existingDirectory('--data-dir'))
      .exitOverride()
      .showHelpAfterError('(run autodropout doctor --help for usage)')
      .action(async (f: { json?: boolean; dataDir?: string }) => {
        const { runDoctor, formatDoctor } = await import('./doctor.js');
        const r = runDoctor(f.dataDir !== undefined ? { dataDir: f.dataDir } : {});
        process.stdout.write(f.json ? `${JSON.stringify(r, null, 1)}\n` : `${formatDoctor(r)}\n`);
        if (!r.healthy) process.exitCode = 1;
      }),
  );
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    throw e;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`autodropout: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
