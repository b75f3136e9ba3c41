// A real MCP client for motokano's tests, on the official TypeScript SDK.
// It runs as the child of `ningen run --tools FILE` (so it is a holder),
// launches `ningen mcp` over stdio as any MCP client would, lists the
// tools, calls those named in MOTOKANO_CALLS, then pulls the panic trigger
// on the session's socket and calls once more, and prints one JSON report.
//
//   NINGEN_BIN=path/to/ningen MOTOKANO_CALLS=a,b node client.mjs
import net from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

// The kill sequence sends SIGTERM first; stay for the grace period so the
// call after the panic can be seen to fail.
process.on("SIGTERM", () => {});

const report = { tools: [], calls: {} };
const transport = new StdioClientTransport({
  command: process.env.NINGEN_BIN,
  args: ["mcp"],
  // The SDK passes only a few variables by default: NINGEN_TOOLS must be
  // handed on, as an MCP client's "env" setting does.
  env: { ...process.env },
  stderr: "inherit",
});
const client = new Client({ name: "motokano-test", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
report.tools = tools.map((t) => ({ name: t.name, description: t.description, type: t.inputSchema?.type }));
for (const name of (process.env.MOTOKANO_CALLS || "").split(",").filter(Boolean)) {
  const r = await client.callTool({ name, arguments: {} });
  report.calls[name] = { text: r.content.map((c) => c.text).join(""), isError: !!r.isError };
}

// session/panic straight on the socket: this process is a holder.
report.panic = await new Promise((resolve) => {
  const s = net.connect(process.env.NINGEN_TOOLS);
  let buf = "";
  s.on("data", (d) => {
    buf += d;
    if (buf.includes("\n")) {
      s.end();
      resolve(JSON.parse(buf.split("\n")[0]));
    }
  });
  s.on("error", (e) => resolve({ error: String(e) }));
  s.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "session/panic" }) + "\n");
});
try {
  const r = await client.callTool({ name: report.tools[0].name, arguments: {} });
  report.afterPanic = { isError: !!r.isError, text: r.content.map((c) => c.text).join("") };
} catch (e) {
  report.afterPanic = { isError: true, thrown: String(e) };
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
