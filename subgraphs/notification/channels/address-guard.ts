import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { DeliveryError } from './channel.js';

/**
 * Which addresses a seller's webhook may reach. Outside development, a webhook must never become
 * a way into the deployment's own network (server-side request forgery): loopback, private
 * (RFC 1918), carrier-grade NAT, link-local (with the cloud metadata address 169.254.169.254),
 * unique-local IPv6, unspecified, multicast and reserved addresses are refused, in IPv4, IPv6
 * and IPv4-mapped IPv6 notation alike. The check is made on the addresses the host name resolves
 * to when the request is sent, and the connection goes to the address checked (a DNS answer that
 * changes between check and connect, "DNS rebinding", cannot slip through).
 */

/** A refused address: permanent (non-retryable), with a code the slice records. */
export class AddressNotAllowedError extends DeliveryError {
  readonly code = 'ADDRESS_NOT_ALLOWED';
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`webhook host ${host} resolves to ${address}, a loopback, private, link-local or reserved address: not allowed`, false);
    this.name = 'AddressNotAllowedError';
  }
}

/** [first address, prefix length] of each refused IPv4 range. */
const IPV4_RANGES: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network", with the unspecified 0.0.0.0
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, with broadcast 255.255.255.255
];

const ipv4ToInt = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

function ipv4Refused(ip: string): boolean {
  const value = ipv4ToInt(ip);
  return IPV4_RANGES.some(([base, bits]) => {
    const size = 2 ** (32 - bits);
    const start = ipv4ToInt(base);
    return value >= start && value < start + size;
  });
}

/** The 8 groups of an IPv6 address (with an embedded dotted IPv4 tail turned into two groups). */
function ipv6Groups(ip: string): number[] {
  let address = ip.split('%')[0]!.toLowerCase(); // no zone id
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const v4 = ipv4ToInt(dotted[1]!);
    address = `${address.slice(0, -dotted[1]!.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv6Refused(ip: string): boolean {
  const g = ipv6Groups(ip);
  if (g.length !== 8 || g.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffff)) return true; // not understood: refuse
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): judge the IPv4 inside.
  const v4 = `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  if (zeros(5) && g[5] === 0xffff) return ipv4Refused(v4);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return ipv4Refused(v4);
  if (zeros(6)) return true; // :: (unspecified), ::1 (loopback), IPv4-compatible (deprecated)
  if ((g[0]! & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local (with fd00:ec2::254, a metadata address)
  if ((g[0]! & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((g[0]! & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local (deprecated)
  if ((g[0]! & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  return false;
}

/** Whether a webhook may not be sent to this IP address (not a host name). */
export function isRefusedAddress(ip: string): boolean {
  const family = isIP(ip.replace(/^\[|\]$/g, ''));
  if (family === 4) return ipv4Refused(ip);
  if (family === 6) return ipv6Refused(ip.replace(/^\[|\]$/g, ''));
  return true; // not an address at all
}

/**
 * A `lookup` for http(s).request: resolves like `dns.lookup`, refuses the host when ANY of its
 * addresses is refused (an attacker's name that also resolves to a public address must not
 * pass on a lucky pick), and hands the checked addresses to the connection.
 */
export function guardedLookup(resolve: LookupFunction = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = Array.isArray(addresses) ? addresses : [{ address: addresses, family: isIP(addresses) }];
      const refused = list.find((a) => isRefusedAddress(a.address));
      if (refused) return callback(new AddressNotAllowedError(hostname, refused.address), '', 0);
      if (list.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (options.all) return (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
