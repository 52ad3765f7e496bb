import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __require = /* @__PURE__ */ ((x) => typeof require !== "undefined" ? require : typeof Proxy !== "undefined" ? new Proxy(x, {
  get: (a, b) => (typeof require !== "undefined" ? require : a)[b]
}) : x)(function(x) {
  if (typeof require !== "undefined") return require.apply(this, arguments);
  throw Error('Dynamic require of "' + x + '" is not supported');
});
var __commonJS = (cb, mod) => function __require2() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// node_modules/dotenv/dist/index.cjs
var require_dist = __commonJS({
  "node_modules/dotenv/dist/index.cjs"(exports, module) {
    var j = (e, n) => () => {
      try {
        return n || e((n = { exports: {} }).exports, n), n.exports;
      } catch (t) {
        throw n = 0, t;
      }
    };
    var R = j((Z, N) => {
      function T(e) {
        return typeof e == "string" ? !["false", "0", "no", "off", ""].includes(e.toLowerCase()) : !!e;
      }
      function U(e = process.env) {
        let n = {};
        for (let t of ["ENCODING", "PATH", "QUIET", "DEBUG", "OVERRIDE", "FAST"]) {
          let r = e[`DOTENV_${t}`] != null ? e[`DOTENV_${t}`] : e[`DOTENV_CONFIG_${t}`];
          r != null && (n[t.toLowerCase()] = t === "ENCODING" || t === "PATH" ? r : T(r));
        }
        return n;
      }
      N.exports = { parseBoolean: T, optionsFromEnv: U };
    });
    var P = j((ee, b) => {
      var F = __require("fs"), _ = __require("path"), B = __require("os"), { URL: L, fileURLToPath: Q } = __require("url"), { parseBoolean: $, optionsFromEnv: I } = R(), G = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg, y = new Uint8Array(256);
      for (let e = 48; e <= 57; e++) y[e] = 1;
      for (let e = 65; e <= 90; e++) y[e] = 1;
      for (let e = 97; e <= 122; e++) y[e] = 1;
      y[45] = 1;
      y[46] = 1;
      y[95] = 1;
      function H(e) {
        let n = {}, t = e.toString();
        t = t.replace(/\r\n?/mg, `
`);
        let r;
        for (; (r = G.exec(t)) != null; ) {
          let o = r[1], i = r[2] || "";
          i = i.trim();
          let c = i[0];
          i = i.replace(/^(['"`])([\s\S]*)\1$/mg, "$2"), c === '"' && (i = i.replace(/\\n/g, `
`), i = i.replace(/\\r/g, "\r")), n[o] = i;
        }
        return n;
      }
      function g(e) {
        return e <= 32 ? e === 32 || e >= 9 && e <= 13 : e >= 160 && (e === 160 || e === 5760 || e >= 8192 && e <= 8202 || e === 8232 || e === 8233 || e === 8239 || e === 8287 || e === 12288 || e === 65279);
      }
      function O(e) {
        return e === 10 || e === 8232 || e === 8233;
      }
      function V(e) {
        let n = {}, t = typeof e == "string" ? e : e.toString();
        t.indexOf("\r") !== -1 && (t = t.replace(/\r\n?/g, `
`));
        let r = t.length, o = 0;
        for (; o < r; ) {
          let i = t.charCodeAt(o);
          for (; o < r && g(i); ) o++, i = t.charCodeAt(o);
          if (o >= r) break;
          if (i === 35) {
            for (; o < r && !O(t.charCodeAt(o)); ) o++;
            continue;
          }
          let c = -1;
          if (i === 101 && o + 6 < r && t.charCodeAt(o + 1) === 120 && t.charCodeAt(o + 2) === 112 && t.charCodeAt(o + 3) === 111 && t.charCodeAt(o + 4) === 114 && t.charCodeAt(o + 5) === 116) {
            let u = t.charCodeAt(o + 6);
            if (g(u)) {
              let s = o + 7;
              for (; s < r && g(t.charCodeAt(s)); ) s++;
              y[t.charCodeAt(s)] && (c = o + 6, o = s);
            } else i = t.charCodeAt(o);
          }
          let E = o, p = 0;
          for (; o < r && (p = t.charCodeAt(o), y[p]); ) o++;
          if (o === E) {
            for (; o < r && !O(t.charCodeAt(o)); ) o++;
            continue;
          }
          let k = t.slice(E, o), D = o;
          if (o >= r && (p = 0), g(p)) do
            o++, p = o < r ? t.charCodeAt(o) : 0;
          while (g(p));
          if (p === 61) o++;
          else if (p === 58 && o === D && o + 1 < r && g(t.charCodeAt(o + 1))) o += 2;
          else {
            for (o = c === -1 ? D : c; o < r && !O(t.charCodeAt(o)); ) o++;
            continue;
          }
          let d = o, l = o;
          for (; l < r && g(t.charCodeAt(l)); ) l++;
          let C = t.charCodeAt(l), a, q = false;
          if (C === 39 || C === 34 || C === 96) {
            let u = t[l], s = t.indexOf(u, l + 1), f = -1, h = -1;
            for (; s !== -1; ) {
              let x = t.charCodeAt(s - 1) === 92, w = s + 1;
              for (; w < r && !O(t.charCodeAt(w)) && g(t.charCodeAt(w)); ) w++;
              if ((w === r || O(t.charCodeAt(w)) || t.charCodeAt(w) === 35) && (f = s, h = w), !x) break;
              s = t.indexOf(u, s + 1);
            }
            if (f !== -1) {
              if (a = t.slice(l + 1, f), o = h, t.charCodeAt(o) === 35) for (; o < r && !O(t.charCodeAt(o)); ) o++;
              q = true;
            }
          }
          if (!q) {
            let u = t.indexOf(`
`, d);
            u === -1 && (u = r);
            let s;
            if (r < 4096) s = t.indexOf("#", d), (s === -1 || s > u) && (s = u);
            else for (s = d; s < u && t.charCodeAt(s) !== 35; ) s++;
            let f = d, h = s;
            for (; f < h && g(t.charCodeAt(f)); ) f++;
            for (; h > f && g(t.charCodeAt(h - 1)); ) h--;
            let x = t.charCodeAt(f);
            if (a = t.slice(f, h), a.includes("\u2028") || a.includes("\u2029") ? a = a.replace(/^(['"`])([\s\S]*)\1$/mg, "$2") : h - f >= 2 && (x === 39 || x === 34 || x === 96) && t.charCodeAt(h - 1) === x && (a = t.slice(f + 1, h - 1)), o = s, s < u) for (; o < r && !O(t.charCodeAt(o)); ) o++;
          }
          C === 34 && (q || l < o) && a.indexOf("\\") !== -1 && (a = a.replace(/\\n/g, `
`).replace(/\\r/g, "\r")), n[k] = a;
        }
        return n;
      }
      function J(e, n) {
        return n && $(n.fast) ? V(e) : H(e);
      }
      function v(e) {
        console.log(`\u2506 ${e}`);
      }
      function W(e) {
        console.error(`\u25C7 ${e}`);
      }
      function S(e) {
        return e[0] === "~" ? _.join(B.homedir(), e.slice(1)) : e;
      }
      function K(e = {}) {
        let n = { ...e };
        for (let t of Object.keys(n)) n[t] === void 0 && delete n[t];
        return { ...I(), ...n };
      }
      function M(e) {
        e = K(e);
        let n = _.resolve(process.cwd(), ".env"), t = "utf8", r = process.env;
        e && e.processEnv != null && (r = e.processEnv);
        let o = $(e && e.debug);
        e && e.encoding ? t = e.encoding : o && v("no encoding is specified (UTF-8 is used by default)");
        let i = [n];
        if (e && e.path) if (!Array.isArray(e.path)) i = [S(e.path)];
        else {
          i = [];
          for (let d of e.path) i.push(S(d));
        }
        let c, E = {}, p = { fast: e.fast };
        for (let d of i) try {
          let l = A.parse(F.readFileSync(d, { encoding: t }), p);
          A.populate(E, l, e);
        } catch (l) {
          o && v(`failed to load ${d} ${l.message}`), c = l;
        }
        let k = A.populate(r, E, e), D = $(Object.prototype.hasOwnProperty.call(e, "quiet") ? e.quiet : I(r).quiet);
        if (o || !D) {
          let d = Object.keys(k).length, l = [];
          for (let C of i) try {
            let a = _.relative(process.cwd(), C instanceof L ? Q(C) : C);
            l.push(a);
          } catch (a) {
            o && v(`failed to load ${C} ${a.message}`), c = a;
          }
          W(`injected env (${d}) from ${l.join(",")}`);
        }
        return c ? { parsed: E, error: c } : { parsed: E };
      }
      function Y(e) {
        return A.configDotenv(e);
      }
      function z(e, n, t = {}) {
        let r = $(t && t.debug), o = $(t && t.override), i = {};
        if (e === null || typeof e != "object" || n === null || typeof n != "object") {
          let c = new Error("OBJECT_REQUIRED: Please check the processEnv argument being passed to populate");
          throw c.code = "OBJECT_REQUIRED", c;
        }
        for (let c of Object.keys(n)) Object.prototype.hasOwnProperty.call(e, c) ? (o === true && (e[c] = n[c], i[c] = n[c]), r && v(o === true ? `"${c}" is already defined and WAS overwritten` : `"${c}" is already defined and was NOT overwritten`)) : (e[c] = n[c], i[c] = n[c]);
        return i;
      }
      var A = { configDotenv: M, config: Y, parse: J, populate: z };
      b.exports.configDotenv = A.configDotenv;
      b.exports.config = A.config;
      b.exports.parse = A.parse;
      b.exports.populate = A.populate;
      b.exports = A;
    });
    var m = P();
    module.exports = m;
    module.exports.config = m.config;
    module.exports.configDotenv = m.configDotenv;
    module.exports.parse = m.parse;
    module.exports.populate = m.populate;
  }
});

// tmp-exp.ts
import { isMainThread, Worker, parentPort } from "node:worker_threads";
import { performance as performance2 } from "node:perf_hooks";
import pg2 from "pg";

// src/factory.ts
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";

// src/errors.ts
var EXIT = {
  ok: 0,
  /** Bad usage or bad input: an unknown option, a malformed file, a missing table. */
  usage: 1,
  /** The server could not be reached or refused the login. */
  connect: 2,
  /** The server rejected a statement. */
  server: 3,
  /** Interrupted by Ctrl-C (128 + SIGINT), as shells report it. */
  interrupted: 130
};
var PgfactoryError = class extends Error {
  code;
  exitCode;
  constructor(message, code, exitCode) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
};
var SettingsError = class extends PgfactoryError {
  constructor(message) {
    super(message, "settings", EXIT.usage);
  }
};
var ConnectError = class extends PgfactoryError {
  constructor(message, code = "connect") {
    super(message, code, EXIT.connect);
  }
};

// src/factory.ts
var NO_SSL_ON_SERVER = /does not support SSL/i;
var NEEDS_SSL = /(no pg_hba\.conf entry|pg_hba\.conf rejects connection) .*no encryption|SSL off/i;
var NO_PASSWORD = "the server asks for a password and none was given: set PGPASSWORD, put it in .env or ~/.pgpass, or use -W";
function readCertFile(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SettingsError(`cannot read ${what} "${file}": ${error.code ?? error.message}`);
  }
}
function systemRoots() {
  const extra = process.env.PGFACTORY_NODE_EXTRA_CA_CERTS;
  if (extra === void 0 || extra === "") return void 0;
  const { rootCertificates } = createRequire(import.meta.url)("node:tls");
  return [...rootCertificates, readCertFile(extra, "NODE_EXTRA_CA_CERTS").toString("utf8")];
}
function tlsOptions(settings, useTls) {
  const { sslmode } = settings;
  if (!useTls || sslmode === "disable" || settings.host.startsWith("/")) return false;
  const options = {};
  if (settings.sslcert !== void 0) options.cert = readCertFile(settings.sslcert, "sslcert");
  if (settings.sslkey !== void 0) options.key = readCertFile(settings.sslkey, "sslkey");
  let rootcert = settings.sslrootcert;
  const defaultRoot = path.join(os.homedir(), ".postgresql", "root.crt");
  if (rootcert === void 0 && fs.existsSync(defaultRoot)) rootcert = defaultRoot;
  const verify = sslmode === "verify-full" || sslmode === "verify-ca" || sslmode === "require" && rootcert !== void 0;
  if (!verify) return { ...options, rejectUnauthorized: false };
  if (rootcert === void 0) {
    throw new SettingsError(`sslmode ${sslmode} needs a root certificate: set sslrootcert (or PGSSLROOTCERT), or create ${defaultRoot}`);
  }
  if (rootcert !== "system") options.ca = readCertFile(rootcert, "sslrootcert");
  else options.ca = systemRoots();
  options.rejectUnauthorized = true;
  if (sslmode !== "verify-full") options.checkServerIdentity = () => void 0;
  return options;
}
function describeServer(settings) {
  return settings.host.startsWith("/") ? `socket "${path.join(settings.host, `.s.PGSQL.${settings.port}`)}"` : `host "${settings.host}", port ${settings.port}`;
}
var TLS_CHAIN_ERRORS = /* @__PURE__ */ new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA"
]);
function connectError(settings, error) {
  const err = error;
  let reason = err.message;
  if (err.code === "ECONNREFUSED") reason = "connection refused (is the server running and accepting TCP connections?)";
  else if (NO_SSL_ON_SERVER.test(reason)) reason = `the server does not support TLS, and sslmode ${settings.sslmode} requires it`;
  else if (err.code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const names = err.cert?.subjectaltname;
    reason = `server certificate does not match host name "${settings.host}" (sslmode verify-full${names !== void 0 ? `; the certificate is for ${names}` : ""})`;
  } else if (err.code !== void 0 && TLS_CHAIN_ERRORS.has(err.code)) {
    reason = `server certificate not trusted: ${reason} (checked against ${settings.sslrootcert !== void 0 ? `sslrootcert "${settings.sslrootcert}"` : "the root certificate"}, sslmode ${settings.sslmode})`;
  } else if (err.code === "ENOTFOUND") reason = "unknown host name";
  else if (/timeout/i.test(reason)) reason = `timeout expired after ${settings.connect_timeout} s (connect_timeout)`;
  else if (err.code === "ENOENT" && settings.host.startsWith("/")) reason = "no such socket (is the server running locally?)";
  if (settings.password !== void 0 && settings.password !== "") reason = reason.split(settings.password).join("********");
  return new ConnectError(`cannot connect to ${describeServer(settings)}: ${reason}`);
}
function promiseOrCallback(promise, callback) {
  if (callback === void 0) return promise;
  promise.then(() => callback(), (err) => callback(err));
  return void 0;
}
function createConnectionFactory(settings, options = {}) {
  const mode2 = options.mode ?? "pooled";
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new SettingsError(`invalid pool size ${poolSize}: must be an integer >= 1`);
  const counters = {
    mode: mode2,
    connections_opened: 0,
    connections_errors: 0,
    connections_reused: 0,
    connections_closed: 0,
    connections_lost: 0,
    connect_ms_total: 0,
    close_ms_total: 0,
    requests: 0,
    requests_errors: 0
  };
  let useTls = settings.sslmode !== "disable" && settings.sslmode !== "allow";
  const active = /* @__PURE__ */ new Set();
  const connecting = /* @__PURE__ */ new Set();
  const handedOut = /* @__PURE__ */ new WeakSet();
  let closed = false;
  const setupSql = options.statementTimeoutMs !== void 0 ? `SET statement_timeout = ${Math.trunc(options.statementTimeoutMs)}` : void 0;
  function clientConfig() {
    const config = {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      database: settings.dbname,
      application_name: settings.application_name,
      ssl: tlsOptions(settings, useTls)
    };
    config.password = async () => {
      if (settings.password === void 0) throw new Error(NO_PASSWORD);
      return settings.password;
    };
    if (settings.connect_timeout > 0) config.connectionTimeoutMillis = settings.connect_timeout * 1e3;
    return config;
  }
  class FactoryClient extends pg.Client {
    constructor() {
      super(clientConfig());
      this.on("error", (error) => {
        counters.connections_lost += 1;
        watchedLoss(this, error);
      });
      this.on("end", () => watchedLoss(this, new Error("server closed the connection unexpectedly")));
    }
    // pg overloads connect() and end(): a promise, or a callback (pg-pool uses the callbacks).
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    connect(callback) {
      return promiseOrCallback(this.timedConnect(), callback);
    }
    async timedConnect() {
      const started = performance.now();
      let tcpAt;
      let tlsAt;
      const connection = this.connection;
      connection.once("connect", () => tcpAt = performance.now());
      connection.once("sslconnect", () => tlsAt = performance.now());
      connecting.add(this);
      try {
        await super.connect();
      } catch (error) {
        counters.connections_errors += 1;
        connection.stream?.destroy();
        throw error;
      } finally {
        connecting.delete(this);
      }
      const readyAt = performance.now();
      counters.connections_opened += 1;
      counters.connect_ms_total += readyAt - started;
      options.onConnect?.({
        total_ms: readyAt - started,
        tcp_ms: tcpAt !== void 0 ? tcpAt - started : void 0,
        tls_ms: tlsAt !== void 0 && tcpAt !== void 0 ? tlsAt - tcpAt : void 0,
        startup_ms: tcpAt !== void 0 ? readyAt - (tlsAt ?? tcpAt) : void 0
      });
      if (setupSql !== void 0) await super.query(setupSql);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    end(callback) {
      return promiseOrCallback(this.timedEnd(), callback);
    }
    async timedEnd() {
      const started = performance.now();
      await super.end();
      const closeMs = performance.now() - started;
      counters.connections_closed += 1;
      counters.close_ms_total += closeMs;
      options.onClose?.(closeMs);
    }
  }
  async function connectWithFallback(open) {
    const triedTls = useTls;
    try {
      return await open();
    } catch (error) {
      const message = error.message ?? "";
      const retry = settings.sslmode === "prefer" && triedTls && NO_SSL_ON_SERVER.test(message) || settings.sslmode === "allow" && !triedTls && NEEDS_SSL.test(message);
      if (error instanceof SettingsError) throw error;
      if (!retry) throw connectError(settings, error);
      counters.connections_errors -= 1;
      useTls = !triedTls;
      try {
        return await open();
      } catch (second) {
        throw connectError(settings, second);
      }
    }
  }
  const pool = mode2 === "pooled" ? new pg.Pool({
    Client: FactoryClient,
    max: poolSize,
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: settings.connect_timeout > 0 ? settings.connect_timeout * 1e3 : 0
  }) : void 0;
  pool?.on("error", () => {
  });
  async function withPooled(fn) {
    const client = pool.idleCount > 0 ? await pool.connect() : await connectWithFallback(() => pool.connect());
    if (handedOut.has(client)) counters.connections_reused += 1;
    else handedOut.add(client);
    active.add(client);
    let broken;
    try {
      return await failOnConnectionLoss(settings, client, fn(client));
    } catch (error) {
      if (!(error instanceof pg.DatabaseError) || (error.code ?? "").startsWith("57P")) broken = error;
      throw error;
    } finally {
      active.delete(client);
      client.release(broken ?? false);
    }
  }
  async function withFresh(fn) {
    const client = await connectWithFallback(async () => {
      const candidate = new FactoryClient();
      await candidate.connect();
      return candidate;
    });
    active.add(client);
    try {
      return await failOnConnectionLoss(settings, client, fn(client));
    } finally {
      active.delete(client);
      await client.end().catch(() => void 0);
    }
  }
  return {
    mode: mode2,
    settings,
    withConnection(fn) {
      if (closed) return Promise.reject(new Error("the connection factory is closed"));
      counters.requests += 1;
      return (mode2 === "pooled" ? withPooled(fn) : withFresh(fn)).catch((error) => {
        counters.requests_errors += 1;
        throw error;
      });
    },
    async cancelActive() {
      for (const client of connecting) client.connection.stream.destroy();
      await Promise.all([...active].map((client) => cancelQuery(settings, client)));
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool?.end();
    },
    stats: () => ({ ...counters })
  };
}
var CONNECTION_LOSS_GRACE_MS = 500;
function failOnConnectionLoss(settings, client, work) {
  return new Promise((resolve, reject) => {
    let lost = false;
    let timer;
    lossWatchers.set(client, (error) => {
      if (lost) return;
      lost = true;
      timer = setTimeout(() => {
        lossWatchers.delete(client);
        reject(connectionLostError(settings, error));
      }, CONNECTION_LOSS_GRACE_MS);
    });
    work.then(
      (value) => {
        clearTimeout(timer);
        lossWatchers.delete(client);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        lossWatchers.delete(client);
        reject(lost && !(error instanceof PgfactoryError) && error instanceof Error ? connectionLostError(settings, error) : error);
      }
    );
  });
}
var lossWatchers = /* @__PURE__ */ new WeakMap();
function watchedLoss(client, error) {
  lossWatchers.get(client)?.(error);
}
function connectionLostError(settings, error) {
  let reason = error.message.replace(/^Connection terminated unexpectedly/, "server closed the connection unexpectedly").replace(/^(read|write) (ECONNRESET|EPIPE)/, "server closed the connection unexpectedly");
  if (settings.password !== void 0 && settings.password !== "") reason = reason.split(settings.password).join("********");
  return new ConnectError(`lost the connection to ${describeServer(settings)}: ${reason}`, "connection_lost");
}
function cancelQuery(settings, client) {
  const { processID, secretKey } = client;
  if (processID === null || processID === void 0 || secretKey === null || secretKey === void 0) return Promise.resolve();
  return new Promise((resolve) => {
    const connection = new pg.Connection();
    const done = () => {
      connection.end();
      resolve();
    };
    const timer = setTimeout(done, 2e3);
    connection.on("error", () => {
      clearTimeout(timer);
      resolve();
    });
    connection.on("connect", () => {
      connection.cancel(processID, secretKey);
      clearTimeout(timer);
      connection.stream.once("close", () => resolve());
      setTimeout(done, 500).unref();
    });
    connection.connect(settings.host.startsWith("/") ? path.join(settings.host, `.s.PGSQL.${settings.port}`) : settings.port, settings.host);
  });
}

// src/settings.ts
var import_dotenv = __toESM(require_dist(), 1);
import fs2 from "node:fs";
import { createRequire as createRequire2 } from "node:module";
import os2 from "node:os";
import path2 from "node:path";
import { parse as parseConnectionUri } from "pg-connection-string";
var SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
var SETTING_NAMES = [
  "host",
  "port",
  "user",
  "password",
  "dbname",
  "sslmode",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "application_name",
  "connect_timeout"
];
var DEFAULT_CONNECT_TIMEOUT_S = 10;
var DEFAULT_PORT = 5432;
var DEFAULT_APPLICATION_NAME = "pgfactory";
var DEFAULT_SOCKET_DIRS = ["/var/run/postgresql", "/tmp"];
var FLAG_SOURCES = {
  host: "flag --host",
  port: "flag --port",
  user: "flag --user",
  dbname: "flag -d",
  sslmode: "flag --sslmode",
  connectTimeout: "flag --connect-timeout",
  password: "password prompt (-W)",
  applicationName: "flag --application-name"
};
var DEFAULT_SOURCE = "default";
var ENV_VARIABLES = {
  host: "PGHOST",
  port: "PGPORT",
  user: "PGUSER",
  password: "PGPASSWORD",
  dbname: "PGDATABASE",
  sslmode: "PGSSLMODE",
  sslrootcert: "PGSSLROOTCERT",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  application_name: "PGAPPNAME",
  connect_timeout: "PGCONNECT_TIMEOUT"
};
var EMPTY_MEANS_UNSET = /* @__PURE__ */ new Set(["host", "port", "user", "dbname"]);
var IGNORED_LIBPQ_KEYWORDS = /* @__PURE__ */ new Set([
  "hostaddr",
  "passfile",
  "channel_binding",
  "options",
  "client_encoding",
  "fallback_application_name",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "replication",
  "gssencmode",
  "sslnegotiation",
  "sslcompression",
  "sslpassword",
  "sslcertmode",
  "sslcrl",
  "sslcrldir",
  "sslsni",
  "requirepeer",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "min_protocol_version",
  "max_protocol_version",
  "krbsrvname",
  "gsslib",
  "gssdelegation",
  "target_session_attrs",
  "load_balance_hosts",
  "require_auth",
  "scram_client_key",
  "scram_server_key",
  "oauth_issuer",
  "oauth_client_id",
  "oauth_client_secret",
  "oauth_scope"
]);
var PASSWORD_ON_COMMAND_LINE_WARNING = "WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead";
var URI_PREFIXES = ["postgresql://", "postgres://"];
function isSettingName(key) {
  return SETTING_NAMES.includes(key);
}
function addCandidate(layer, name, value, source) {
  if (value === void 0) return;
  if (value === "" && EMPTY_MEANS_UNSET.has(name)) return;
  layer[name] = { value, source };
}
function layerFromValues(values, source) {
  const layer = {};
  for (const name of SETTING_NAMES) addCandidate(layer, name, values[name], source);
  return layer;
}
function isConnectionUri(text) {
  return URI_PREFIXES.some((prefix) => text.startsWith(prefix));
}
function isConnectionString(text) {
  return isConnectionUri(text) || text.includes("=");
}
function redactUri(uri) {
  let redacted = uri;
  const authorityStart = redacted.indexOf("://");
  const lastAt = redacted.lastIndexOf("@");
  if (authorityStart !== -1 && lastAt > authorityStart) {
    const userinfo = redacted.slice(authorityStart + 3, lastAt);
    const colon = userinfo.indexOf(":");
    if (colon !== -1) {
      redacted = `${redacted.slice(0, authorityStart + 3)}${userinfo.slice(0, colon)}:****${redacted.slice(lastAt)}`;
    }
  }
  return redacted.replace(/([?&]password=)[^&#]*/gi, "$1****");
}
function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}
function noteOption(key, value, sourceLabel, parsed, warnings, unknownIsError) {
  if (key === "service") {
    parsed.service = value;
  } else if (isSettingName(key)) {
    parsed.values[key] = value;
  } else if (IGNORED_LIBPQ_KEYWORDS.has(key)) {
    warnings.push(`WARNING: ignoring connection option "${key}" in ${sourceLabel}: not supported by pgfactory`);
  } else if (unknownIsError) {
    throw new SettingsError(`invalid connection option "${key}" in ${sourceLabel}`);
  } else {
    warnings.push(`WARNING: ignoring unknown parameter "${key}" in ${sourceLabel}`);
  }
}
function parseUri(uri, sourceLabel, warnings) {
  const queryStart = uri.indexOf("?");
  const base = queryStart === -1 ? uri : uri.slice(0, queryStart);
  const query = queryStart === -1 ? "" : uri.slice(queryStart + 1);
  const parsed = { values: {}, service: void 0 };
  try {
    const fromAuthority = parseConnectionUri(base);
    const present = (value) => typeof value === "string" && value !== "" ? value : void 0;
    parsed.values.host = present(fromAuthority.host);
    parsed.values.port = present(fromAuthority.port);
    parsed.values.user = present(fromAuthority.user);
    parsed.values.password = present(fromAuthority.password);
    parsed.values.dbname = present(fromAuthority.database);
    for (const [key, value] of new URLSearchParams(query)) {
      noteOption(key, value, sourceLabel, parsed, warnings, false);
    }
  } catch (error) {
    if (error instanceof SettingsError) throw error;
    throw new SettingsError(`invalid connection URI "${redactUri(uri)}" in ${sourceLabel}: ${errorMessage(error)}`);
  }
  return parsed;
}
var isSpace = (char) => char !== void 0 && /\s/.test(char);
function parseConninfo(text, sourceLabel, warnings) {
  const parsed = { values: {}, service: void 0 };
  const fail = (problem) => {
    throw new SettingsError(`invalid connection string in ${sourceLabel}: ${problem}`);
  };
  let previousKey;
  let i = 0;
  while (i < text.length) {
    while (isSpace(text[i])) i++;
    if (i >= text.length) break;
    let key = "";
    while (i < text.length && !isSpace(text[i]) && text[i] !== "=") key += text[i++];
    const keyForMessage = previousKey === "password" ? "the value of password (quote values that contain spaces)" : `"${key}"`;
    while (isSpace(text[i])) i++;
    if (text[i] !== "=") fail(`missing "=" after ${keyForMessage}`);
    i++;
    while (isSpace(text[i])) i++;
    let value = "";
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const char = text[i];
        if (char === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (char === "'") {
          closed = true;
          i++;
          break;
        } else {
          value += char;
          i++;
        }
      }
      if (!closed) fail(`unterminated quoted string after ${key === "password" ? "password" : `"${key}"`}`);
    } else {
      while (i < text.length && !isSpace(text[i])) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    if (previousKey === "password" && !isSettingName(key) && key !== "service" && !IGNORED_LIBPQ_KEYWORDS.has(key)) {
      fail("unknown keyword after the value of password (quote values that contain spaces)");
    }
    noteOption(key, value, sourceLabel, parsed, warnings, true);
    previousKey = key;
  }
  return parsed;
}
function parseConnectionString(text, sourceLabel, warnings) {
  return isConnectionUri(text) ? parseUri(text, sourceLabel, warnings) : parseConninfo(text, sourceLabel, warnings);
}
function findServiceEntry(text, service, file, warnings) {
  const sourceLabel = `service "${service}" (${file})`;
  const values = {};
  let inTarget = false;
  let found = false;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      if (found) break;
      inTarget = line.endsWith("]") && line.slice(1, -1).trim() === service;
      found = inTarget;
      continue;
    }
    if (!inTarget) continue;
    const equals = line.indexOf("=");
    if (equals === -1) throw new SettingsError(`syntax error in service file "${file}", line ${index + 1}`);
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (key === "service") {
      throw new SettingsError(`nested service specifications not supported in service file "${file}", line ${index + 1}`);
    }
    if (isSettingName(key)) {
      values[key] = value;
    } else if (IGNORED_LIBPQ_KEYWORDS.has(key)) {
      warnings.push(`WARNING: ignoring connection option "${key}" in ${sourceLabel}: not supported by pgfactory`);
    } else {
      throw new SettingsError(`invalid connection option "${key}" in service file "${file}", line ${index + 1}`);
    }
  }
  return found ? layerFromValues(values, sourceLabel) : void 0;
}
var pgpassHelper = createRequire2(import.meta.url)("pgpass/lib/helper.js");
var GROUP_OR_WORLD_ACCESS = 63;
var FILE_TYPE_MASK = 61440;
var REGULAR_FILE = 32768;
function passwordFromFile(passfile, target, input, warnings) {
  const text = input.readFile(passfile);
  if (text === void 0) return void 0;
  const mode2 = input.fileMode(passfile);
  if (mode2 !== void 0) {
    if ((mode2 & FILE_TYPE_MASK) !== 0 && (mode2 & FILE_TYPE_MASK) !== REGULAR_FILE) {
      warnings.push(`WARNING: password file "${passfile}" is not a plain file`);
      return void 0;
    }
    if ((mode2 & GROUP_OR_WORLD_ACCESS) !== 0) {
      warnings.push(`WARNING: password file "${passfile}" has group or world access; permissions should be u=rw (0600) or less`);
      return void 0;
    }
  }
  const hostsToTry = target.host.startsWith("/") ? [target.host, "localhost"] : [target.host];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (line.trimStart().startsWith("#")) continue;
    const entry = pgpassHelper.parseLine(line);
    if (entry === null || !pgpassHelper.isValidEntry(entry)) continue;
    const matches = hostsToTry.some(
      (host) => pgpassHelper.match({ host, port: String(target.port), database: target.dbname, user: target.user }, entry)
    );
    if (matches) return { value: entry.password, source: `pgpass ${passfile}:${index + 1}` };
  }
  return void 0;
}
var MAX_INT32 = 2147483647;
function parsePort(candidate) {
  const port = /^\d+$/.test(candidate.value) ? Number(candidate.value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SettingsError(`invalid port "${candidate.value}" from ${candidate.source}: must be an integer 1-65535`);
  }
  return port;
}
function parseConnectTimeout(candidate) {
  const seconds2 = /^\d+$/.test(candidate.value) ? Number(candidate.value) : NaN;
  if (!Number.isInteger(seconds2) || seconds2 > MAX_INT32) {
    throw new SettingsError(
      `invalid connect_timeout "${candidate.value}" from ${candidate.source}: must be a whole number of seconds 0-${MAX_INT32} (0 = wait forever)`
    );
  }
  return seconds2;
}
function parseSslMode(candidate) {
  const mode2 = SSL_MODES.find((known) => known === candidate.value);
  if (mode2 === void 0) {
    throw new SettingsError(`invalid sslmode "${candidate.value}" from ${candidate.source}: expected one of ${SSL_MODES.join(", ")}`);
  }
  return mode2;
}
function resolveSettings(input) {
  const { flags } = input;
  const warnings = [];
  const dotenvLabel = input.dotenvPath ?? ".env";
  const lookupVariable = (name) => {
    const fromEnv = input.env[name];
    if (fromEnv !== void 0) return { value: fromEnv, source: `env ${name}` };
    const fromDotenv = input.dotenv[name];
    if (fromDotenv !== void 0) return { value: fromDotenv, source: `${dotenvLabel} ${name}` };
    return void 0;
  };
  const lookupLocator = (name) => {
    const found = lookupVariable(name);
    return found !== void 0 && found.value !== "" ? found.value : void 0;
  };
  const dbnameFlag = flags.dbname;
  const dbnameFlagIsPlain = dbnameFlag !== void 0 && !isConnectionString(dbnameFlag);
  let dashD;
  if (dbnameFlag !== void 0 && !dbnameFlagIsPlain) {
    dashD = parseConnectionString(dbnameFlag, FLAG_SOURCES.dbname, warnings);
    if (dashD.values.password !== void 0) warnings.push(PASSWORD_ON_COMMAND_LINE_WARNING);
  }
  const databaseUrl = lookupVariable("DATABASE_URL");
  let fromDatabaseUrl;
  let databaseUrlLabel = "DATABASE_URL";
  if (databaseUrl !== void 0 && databaseUrl.value !== "") {
    databaseUrlLabel = databaseUrl.source.startsWith("env ") ? "DATABASE_URL" : `DATABASE_URL (${dotenvLabel})`;
    if (!isConnectionString(databaseUrl.value)) {
      throw new SettingsError(
        `invalid DATABASE_URL "${redactUri(databaseUrl.value)}" from ${databaseUrl.source}: expected a postgres:// URI or a key=value connection string`
      );
    }
    fromDatabaseUrl = parseConnectionString(databaseUrl.value, databaseUrlLabel, warnings);
  }
  const serviceName = dashD?.service ?? fromDatabaseUrl?.service ?? lookupLocator("PGSERVICE");
  let serviceLayer = {};
  if (serviceName !== void 0) {
    const userFile = lookupLocator("PGSERVICEFILE") ?? path2.join(input.homedir, ".pg_service.conf");
    const sysconfdir = lookupLocator("PGSYSCONFDIR");
    const files = sysconfdir === void 0 ? [userFile] : [userFile, path2.join(sysconfdir, "pg_service.conf")];
    let found;
    for (const file of files) {
      const text = input.readFile(file);
      if (text === void 0) continue;
      found = findServiceEntry(text, serviceName, file, warnings);
      if (found !== void 0) break;
    }
    if (found === void 0) {
      throw new SettingsError(`definition of service "${serviceName}" not found (searched ${files.join(", ")})`);
    }
    serviceLayer = found;
  }
  const plainDbnameLayer = {};
  if (dbnameFlagIsPlain) addCandidate(plainDbnameLayer, "dbname", dbnameFlag, FLAG_SOURCES.dbname);
  const overridesLayer = {};
  if (input.overrides !== void 0) {
    for (const name of SETTING_NAMES) {
      const value = input.overrides.values[name];
      if (value !== void 0) addCandidate(overridesLayer, name, String(value), input.overrides.source);
    }
  }
  const promptLayer = {};
  addCandidate(promptLayer, "password", flags.password, FLAG_SOURCES.password);
  const separateFlagsLayer = {};
  addCandidate(separateFlagsLayer, "host", flags.host, FLAG_SOURCES.host);
  addCandidate(separateFlagsLayer, "port", flags.port, FLAG_SOURCES.port);
  addCandidate(separateFlagsLayer, "user", flags.user, FLAG_SOURCES.user);
  addCandidate(separateFlagsLayer, "sslmode", flags.sslmode, FLAG_SOURCES.sslmode);
  addCandidate(separateFlagsLayer, "connect_timeout", flags.connectTimeout, FLAG_SOURCES.connectTimeout);
  addCandidate(separateFlagsLayer, "application_name", flags.applicationName, FLAG_SOURCES.applicationName);
  const envLayer = {};
  for (const name of SETTING_NAMES) {
    const found = lookupVariable(ENV_VARIABLES[name]);
    if (found !== void 0) addCandidate(envLayer, name, found.value, found.source);
  }
  const layers = [
    plainDbnameLayer,
    overridesLayer,
    promptLayer,
    dashD === void 0 ? {} : layerFromValues(dashD.values, FLAG_SOURCES.dbname),
    separateFlagsLayer,
    fromDatabaseUrl === void 0 ? {} : layerFromValues(fromDatabaseUrl.values, databaseUrlLabel),
    // As in libpq, a service's values beat the PG* variables.
    serviceLayer,
    envLayer
  ];
  const winner = (name) => {
    for (const layer of layers) {
      const candidate = layer[name];
      if (candidate !== void 0) return candidate;
    }
    return void 0;
  };
  const sources = {};
  const pick = (name, convert, fallback) => {
    const candidate = winner(name);
    sources[name] = candidate === void 0 ? DEFAULT_SOURCE : candidate.source;
    return candidate === void 0 ? fallback() : convert(candidate);
  };
  const asString = (candidate) => candidate.value;
  const none = () => void 0;
  const host = pick("host", asString, () => DEFAULT_SOCKET_DIRS.find((dir) => input.existsDir(dir)) ?? "localhost");
  const port = pick("port", parsePort, () => DEFAULT_PORT);
  const user = pick("user", asString, () => input.osUser);
  const dbname = pick("dbname", asString, () => user);
  let password = pick("password", asString, none);
  if (password === void 0) {
    const passfile = lookupLocator("PGPASSFILE") ?? path2.join(input.homedir, ".pgpass");
    const fromFile = passwordFromFile(passfile, { host, port, dbname, user }, input, warnings);
    if (fromFile !== void 0) {
      password = fromFile.value;
      sources.password = fromFile.source;
    }
  }
  const sslmode = pick("sslmode", parseSslMode, () => "prefer");
  const sslrootcert = pick("sslrootcert", asString, none);
  const sslcert = pick("sslcert", asString, none);
  const sslkey = pick("sslkey", asString, none);
  const applicationName = pick("application_name", asString, () => DEFAULT_APPLICATION_NAME);
  const connectTimeout = pick("connect_timeout", parseConnectTimeout, () => DEFAULT_CONNECT_TIMEOUT_S);
  const values = {
    host,
    port,
    user,
    dbname,
    sslmode,
    sslrootcert,
    sslcert,
    sslkey,
    application_name: applicationName,
    connect_timeout: connectTimeout
  };
  Object.defineProperty(values, "password", { value: password, enumerable: false, writable: true, configurable: true });
  const orderedSources = {};
  for (const name of SETTING_NAMES) orderedSources[name] = sources[name];
  return { values, sources: orderedSources, warnings };
}
function errorCode(error) {
  const code = error?.code;
  return typeof code === "string" ? code : void 0;
}
function currentOsUser(env) {
  try {
    return os2.userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? env.USERNAME ?? "";
  }
}
function loadSettings(flags, options = {}) {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const envFileLabel = options.envFile ?? ".env";
  const envFilePath = path2.resolve(cwd, envFileLabel);
  const extraWarnings = [];
  let dotenvValues = {};
  try {
    dotenvValues = import_dotenv.default.parse(fs2.readFileSync(envFilePath, "utf8"));
  } catch (error) {
    const code = errorCode(error);
    if (options.envFile !== void 0) {
      throw new SettingsError(
        code === "ENOENT" ? `env file "${envFileLabel}" not found` : `cannot read env file "${envFileLabel}": ${code ?? errorMessage(error)}`
      );
    }
    if (code !== "ENOENT") extraWarnings.push(`WARNING: cannot read env file "${envFileLabel}": ${code ?? errorMessage(error)}`);
  }
  const homedir = env.HOME !== void 0 && env.HOME !== "" ? env.HOME : os2.homedir();
  const resolved = resolveSettings({
    flags,
    env,
    dotenv: dotenvValues,
    dotenvPath: envFileLabel,
    homedir,
    osUser: currentOsUser(env),
    readFile: (file) => {
      try {
        return fs2.readFileSync(file, "utf8");
      } catch {
        return void 0;
      }
    },
    // libpq skips the permission check on Windows, where st_mode means little.
    fileMode: (file) => {
      if (process.platform === "win32") return void 0;
      try {
        return fs2.statSync(file).mode;
      } catch {
        return void 0;
      }
    },
    existsDir: (dir) => {
      try {
        return fs2.statSync(dir).isDirectory();
      } catch {
        return false;
      }
    },
    overrides: options.overrides
  });
  return { ...resolved, warnings: [...extraWarnings, ...resolved.warnings] };
}

// src/bench/skipping-query.ts
var QUERY = 81;
var READY_FOR_QUERY = 90;
var ERROR_RESPONSE = 69;
var COPY_IN_RESPONSE = 71;
var COPY_BOTH_RESPONSE = 87;
var MESSAGE_HEADER = 5;
function queryMessage(text) {
  const length = Buffer.byteLength(text);
  const message = Buffer.alloc(MESSAGE_HEADER + length + 1);
  message[0] = QUERY;
  message.writeUInt32BE(4 + length + 1, 1);
  message.write(text, MESSAGE_HEADER);
  return message;
}
var SocketRouter = class {
  constructor(pgHandler) {
    this.pgHandler = pgHandler;
  }
  pgHandler;
  active;
  onData = (chunk) => {
    const query = this.active;
    if (query === void 0) {
      this.pgHandler(chunk);
      return;
    }
    const rest = query.skip(chunk);
    if (rest === void 0) return;
    this.active = void 0;
    this.pgHandler(rest);
  };
};
var routers = /* @__PURE__ */ new WeakMap();
function routerFor(socket) {
  let router = routers.get(socket);
  if (router === void 0) {
    const listeners = socket.listeners("data");
    router = listeners.length === 1 ? new SocketRouter(listeners[0]) : null;
    if (router !== null) {
      socket.removeListener("data", listeners[0]);
      socket.on("data", router.onData);
    }
    routers.set(socket, router);
  }
  return router ?? void 0;
}
var SkippingQuery = class {
  constructor(text, message, resolve, reject) {
    this.text = text;
    this.message = message;
    this.resolve = resolve;
    this.reject = reject;
  }
  text;
  message;
  resolve;
  reject;
  settled = false;
  // Bytes of the message being skipped still to come, and a header cut off by the chunk's end.
  remaining = 0;
  partialHeader;
  submit(connection) {
    const socket = connection.stream;
    const router = routerFor(socket);
    if (router === void 0) {
      connection.query(this.text);
      return;
    }
    router.active = this;
    socket.write(this.message);
  }
  /** Steps over whole messages; returns the bytes from the first one pg must read, if it came. */
  skip(input) {
    let chunk = input;
    if (this.partialHeader !== void 0) {
      chunk = Buffer.concat([this.partialHeader, input]);
      this.partialHeader = void 0;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - pos);
        pos += skipped;
        this.remaining -= skipped;
        continue;
      }
      const code = chunk[pos];
      if (code === READY_FOR_QUERY || code === ERROR_RESPONSE || code === COPY_IN_RESPONSE || code === COPY_BOTH_RESPONSE) {
        return pos === 0 ? chunk : chunk.subarray(pos);
      }
      if (chunk.length - pos < MESSAGE_HEADER) {
        this.partialHeader = Buffer.from(chunk.subarray(pos));
        return void 0;
      }
      this.remaining = 1 + chunk.readUInt32BE(pos + 1);
    }
    return void 0;
  }
  handleRowDescription() {
  }
  handleDataRow() {
  }
  handleCommandComplete() {
  }
  handleEmptyQuery() {
  }
  handlePortalSuspended() {
  }
  handleCopyData() {
  }
  handleCopyInResponse(connection) {
    connection.sendCopyFail("bench does not send COPY data");
  }
  handleError(error) {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }
  handleReadyForQuery() {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }
};

// tmp-exp.ts
var mode = process.argv[2] ?? "factory";
var seconds = 5;
if (isMainThread) {
  const ws = [0, 1].map(() => new Worker(new URL(import.meta.url), { argv: [mode] }));
  const results = await Promise.all(ws.map((w) => new Promise((r) => w.once("message", r))));
  console.log(mode, Math.round(results.reduce((a, b) => a + b, 0) / seconds));
} else {
  const settings = loadSettings({}, { env: process.env, cwd: process.cwd() }).values;
  const message = queryMessage("SELECT 1");
  const run = (client) => new Promise((res, rej) => client.query(new SkippingQuery("SELECT 1", message, res, rej)));
  let ops = 0;
  const end = performance2.now() + seconds * 1e3;
  if (mode === "raw") {
    const clients = await Promise.all([0, 1].map(async () => {
      const c = new pg2.Client({ host: settings.host, port: settings.port, user: settings.user, password: settings.password, database: settings.dbname });
      await c.connect();
      return c;
    }));
    await Promise.all(clients.map(async (c) => {
      while (performance2.now() < end) {
        await run(c);
        ops++;
      }
    }));
  } else if (mode === "pool") {
    const pool = new pg2.Pool({ host: settings.host, port: settings.port, user: settings.user, password: settings.password, database: settings.dbname, max: 2, idleTimeoutMillis: 0 });
    await Promise.all([0, 1].map(async () => {
      while (performance2.now() < end) {
        const c = await pool.connect();
        try {
          await run(c);
        } finally {
          c.release();
        }
        ops++;
      }
    }));
  } else {
    const factory = createConnectionFactory(settings, { mode: "pooled", poolSize: 2 });
    await Promise.all([0, 1].map(() => factory.withConnection(async () => void 0)));
    await Promise.all([0, 1].map(async () => {
      while (performance2.now() < end) {
        await factory.withConnection(run);
        ops++;
      }
    }));
  }
  parentPort.postMessage(ops);
  process.exit(0);
}
