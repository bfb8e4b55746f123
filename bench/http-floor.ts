import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

/**
 * The floor for bench/evaluator.ts: a bare node:http server that reads and parses the request body
 * as the evaluator must, then answers a constant of the evaluator's response size. Nothing a Node
 * evaluator does per request can cost less. `FLOOR_BODY` names the file holding the answer.
 */
// A string, as the evaluator sends: node then writes headers and body in one piece.
const answer = readFileSync(process.env.FLOOR_BODY!, 'utf8');
const length = Buffer.byteLength(answer);
createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString());
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
    response.end(answer);
  });
}).listen(Number(process.env.FLOOR_PORT), '127.0.0.1');
