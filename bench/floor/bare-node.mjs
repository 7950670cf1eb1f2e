// The lowest floor: bare node answering initialize and tools/list by hand (no SDK, no imports),
// so the bench can show what node itself costs before any server code.
let buffered = '';
const send = (id, result) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const message = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    if (message.method === 'initialize') {
      send(message.id, {
        protocolVersion: message.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'bare', version: '1.0.0' },
      });
    } else if (message.method === 'tools/list') {
      send(message.id, {
        tools: [{ name: 'echo', description: 'Returns the text it is given.', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } }],
      });
    }
  }
});
process.stdin.on('end', () => process.exit(0));
