/** Runs a built module under Node and collects its output (Bun side). */
export interface NodeRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runNode(file: string, args: string[] = [], env: Record<string, string> = {}): Promise<NodeRun> {
  const p = Bun.spawn(["node", "--experimental-websocket", "--no-warnings", file, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
