/** Running `ctr-sync` in a test: its output captured, region us-east-1, no waiting between polls. */
import { createClients } from '../../cli/aws';
import { main } from '../../cli/main';

/** What one run of `ctr-sync` printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run `ctr-sync` with `argv`, with the SDK clients of cli/aws.ts (mocked by the test or real). */
export async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    io: { out: (line) => out.push(line), err: (line) => err.push(line) },
    clients: (connection) =>
      createClients({ ...connection, region: connection.region ?? 'us-east-1' }),
    sleep: async () => {},
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
