#!/usr/bin/env node
// An engine stand-in that only tries to reach the network: for each host:port in NET_PROBE_TARGETS it
// prints `NET-PROBE host:port ok` (a TCP connection was made) or `NET-PROBE host:port <error code>`.
import { connect } from 'node:net';

function probe(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    const done = (result) => {
      socket.destroy();
      resolve(`NET-PROBE ${target} ${result}`);
    };
    socket.once('connect', () => done('ok'));
    socket.once('timeout', () => done('timeout'));
    socket.once('error', (err) => done(err.code ?? err.message));
  });
}

for (const target of (process.env.NET_PROBE_TARGETS ?? '').split(',').filter(Boolean)) process.stdout.write(`${await probe(target)}\n`);
