/**
 * The one msgpack packer and unpacker: plain MessagePack maps, no msgpackr
 * extensions (records, structured clone), so any client in any language can
 * read what tickgate writes.
 * @module
 */
import { Packr, Unpackr } from "msgpackr";

export const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
