/**
 * The one msgpack packer and unpacker: plain MessagePack maps, no msgpackr
 * extensions (records, structured clone), so any client in any language can
 * read what tickgate writes.
 * @module
 */
// The subpath entries leave out msgpackr's native string extractor (msgpackr-extract): ~6 MiB of resident memory
// in every process, for speed on large string-heavy messages the server does not decode (publications are read
// from their bytes, see pub-frame.ts).
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";

export const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
