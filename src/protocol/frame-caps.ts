/**
 * Size caps per client frame type. A control frame (`ping`, `unsub`, `ack`
 * of a command, `auth`, `hello`, ...) has no reason to be large, so padding
 * it with fields the server ignores must not buy server time: the decoder
 * compares the frame's size with its type's cap as soon as it has read `t`
 * (before any full decoding) and refuses it with `FRAME_TOO_LARGE`, which
 * spends the peer's error budget. Frames that carry a payload (`pub`, `req`,
 * `command`) are bounded by `maxFrameBytes` and the topic's `maxPayload`.
 * O(1) per frame: one table lookup.
 * @module
 */
import type { ClientFrameType as WireFrameType } from "./wire.ts";

/** Bytes of one encoded client frame, per type (msgpack bytes, or UTF-16 length of a JSON text frame). */
export type FrameCaps = Readonly<Record<WireFrameType, number>>;

const KiB = 1024;

/**
 * The caps for a server whose largest frame is `maxFrameBytes`. `sub` may
 * carry a pattern's recover positions, which the client keeps within half a
 * frame, so its cap follows `maxFrameBytes`; everything else is fixed.
 */
export function frameCaps(maxFrameBytes: number): FrameCaps {
  return Object.freeze({
    // Room for a 64-character id even when JSON escapes every character (6 each).
    ping: 512,
    stats: 512,
    unsub: 4 * KiB,
    sub: Math.min(maxFrameBytes, (maxFrameBytes >> 1) + 4 * KiB),
    auth: 16 * KiB,
    // A will's data is a small status value, not a publication stream.
    hello: 16 * KiB,
    command_ack: 64 * KiB,
    command_nack: 4 * KiB,
    log: 8 * KiB,
    pub: maxFrameBytes,
    req: maxFrameBytes,
    command: maxFrameBytes,
  });
}

/** The caps at the default `maxFrameBytes` (144 KiB: see `frameBytesFor` in core/options.ts). */
export const DEFAULT_FRAME_CAPS = frameCaps(144 * KiB);

/** The smallest cap: a frame at most this long is never checked further. */
export const SMALLEST_CAP = 512;
