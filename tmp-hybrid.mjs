import pg from 'pg';
const clients = Number(process.argv[2] ?? 2), seconds = Number(process.argv[3] ?? 5), mode = process.argv[4] ?? 'hybrid';
const q = Buffer.from('SELECT 1\0'); const msg = Buffer.alloc(5 + q.length); msg[0] = 0x51; msg.writeInt32BE(4 + q.length, 1); q.copy(msg, 5);
let ops = 0;
const end = performance.now() + seconds * 1000;
class RawQuery {
  constructor(resolve, reject) { this.resolve = resolve; this.reject = reject; this.remaining = 0; this.header = null; }
  submit(connection) {
    if (mode === 'discard') return connection.query('SELECT 1');
    const stream = connection.stream;
    const pgHandler = stream.listeners('data')[0];
    stream.removeListener('data', pgHandler);
    const onData = (buf) => {
      let pos = 0;
      while (pos < buf.length) {
        if (this.remaining > 0) { const n = Math.min(this.remaining, buf.length - pos); pos += n; this.remaining -= n; continue; }
        if (buf.length - pos < 5) throw new Error('split header (prototype)');
        const code = buf[pos];
        if (code === 0x5a || code === 0x45) { stream.removeListener('data', onData); stream.on('data', pgHandler); pgHandler(buf.subarray(pos)); return; }
        this.remaining = buf.readUInt32BE(pos + 1) + 1; 
      }
    };
    stream.on('data', onData);
    stream.write(msg);
  }
  handleError(e) { this.err = e; }
  handleReadyForQuery() { this.err ? this.reject(this.err) : this.resolve(); }
  handleRowDescription() {} handleDataRow() {} handleCommandComplete() {} handleEmptyQuery() {}
}
async function one() {
  const c = new pg.Client(); await c.connect();
  while (performance.now() < end) { await new Promise((res, rej) => c.query(new RawQuery(res, rej))); ops++; }
}
const t = performance.now();
await Promise.all(Array.from({ length: clients }, one));
console.log(mode, clients, 'ops/s', Math.round(ops / ((performance.now() - t) / 1000)));
process.exit(0);
