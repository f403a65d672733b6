// Preloaded into Node contenders (node --require): a server that listens on a port without naming
// a host is put on 127.0.0.1, so a gateway that binds every interface by default (Portkey's
// start-server) is reachable from this machine only, like every other contender.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const rest = args.slice(1);
    if (typeof rest[0] !== "string") {
      return listen.call(this, Number(first), "127.0.0.1", ...rest);
    }
  } else if (first && typeof first === "object" && first.port !== undefined && !first.host && !first.path) {
    return listen.call(this, { ...first, host: "127.0.0.1" }, ...args.slice(1));
  }
  return listen.apply(this, args);
};
