// Reads an MCAP file back with the MCAP project's own TypeScript reader (@mcap/core), independently of
// the C# writer, and prints one JSON summary line. Exits 1 with one error line if anything is wrong:
// bad magic or record framing, a chunk CRC, the data-section CRC, the summary CRC, a message index entry
// that does not point at a message with that log time, a chunk index that does not match its chunk,
// statistics that disagree with the messages, the indexed and streamed reads disagreeing, or a JSON message
// whose fields are not exactly its channel's JSON Schema properties with their types.
//   node mcap-check.mjs FILE.mcap
import { readFile } from "node:fs/promises";
import { McapIndexedReader, McapStreamReader, Opcode } from "@mcap/core";
import { crc32 } from "@foxglove/crc";

function fail(message) {
  console.error(`mcap-check: ${process.argv[2]}: ${message}`);
  process.exit(1);
}

const bytes = new Uint8Array(await readFile(process.argv[2]));
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// 1. Streamed read: every record in order; chunk CRCs validated by the reader.
const stream = new McapStreamReader({ includeChunks: true, validateCrcs: true });
stream.append(bytes);
const recordCounts = {};
const streamed = new Map(); // channelId -> count
const channelTopics = new Map();
const schemas = new Map(); // schemaId -> parsed JSON Schema
const channelSchemas = new Map(); // channelId -> parsed JSON Schema
let first, last, schemaChecked = 0;

// A message against its channel's JSON Schema (object with "properties"): the same field names, each of its type.
function checkAgainstSchema(schema, message, topic) {
  if (!schema?.properties) return;
  const want = Object.keys(schema.properties).sort(), got = Object.keys(message).sort();
  if (want.join() !== got.join()) throw new Error(`${topic}: fields [${got}] are not the schema's [${want}]`);
  for (const [name, spec] of Object.entries(schema.properties)) {
    const types = [spec.type].flat(), v = message[name];
    const ok = types.some((t) =>
      (t === "null" && v === null) || (t === "number" && typeof v === "number") || (t === "integer" && Number.isInteger(v)) ||
      (t === "boolean" && typeof v === "boolean") || (t === "string" && typeof v === "string"));
    if (!ok) throw new Error(`${topic}: field ${name} = ${JSON.stringify(v)} is not ${types.join("|")}`);
  }
  schemaChecked++;
}
try {
  for (let r; (r = stream.nextRecord()); ) {
    recordCounts[r.type] = (recordCounts[r.type] ?? 0) + 1;
    if (r.type === "Schema" && r.encoding === "jsonschema") schemas.set(r.id, JSON.parse(new TextDecoder().decode(r.data)));
    if (r.type === "Channel") {
      channelTopics.set(r.id, r.topic);
      channelSchemas.set(r.id, schemas.get(r.schemaId));
    }
    if (r.type === "Message") {
      streamed.set(r.channelId, (streamed.get(r.channelId) ?? 0) + 1);
      if (first === undefined || r.logTime < first) first = r.logTime;
      if (last === undefined || r.logTime > last) last = r.logTime;
      const message = JSON.parse(new TextDecoder().decode(r.data)); // every message is JSON
      checkAgainstSchema(channelSchemas.get(r.channelId), message, channelTopics.get(r.channelId));
    }
  }
} catch (e) {
  fail(`streamed read: ${e.message}`);
}
if (!stream.done()) fail("streamed read stopped before the footer and closing magic");

// 2. Indexed read: footer, summary (its CRC checked by Initialize), chunk indexes, message indexes.
const readable = {
  size: async () => BigInt(bytes.length),
  read: async (offset, length) => bytes.subarray(Number(offset), Number(offset + length)),
};
let reader;
try {
  reader = await McapIndexedReader.Initialize({ readable });
} catch (e) {
  fail(`indexed open: ${e.message}`);
}
const indexed = new Map();
try {
  for await (const m of reader.readMessages({ validateCrcs: true }))
    indexed.set(m.channelId, (indexed.get(m.channelId) ?? 0) + 1);
} catch (e) {
  fail(`indexed read: ${e.message}`);
}

// 3. The data-section CRC: every byte before the Data End record.
if (reader.dataSectionCrc === undefined) fail("Data End carries no data-section CRC");
const dataCrc = crc32(bytes.subarray(0, Number(reader.dataEndOffset)));
if (dataCrc !== reader.dataSectionCrc) fail(`data-section CRC ${dataCrc} != ${reader.dataSectionCrc} in Data End`);

// 4. Each chunk index against its chunk, and each message index entry against the message it points at.
let indexEntries = 0;
for (const ci of reader.chunkIndexes) {
  const at = Number(ci.chunkStartOffset);
  if (bytes[at] !== Opcode.CHUNK) fail(`chunk index points at opcode ${bytes[at]} at ${at}`);
  if (9n + view.getBigUint64(at + 1, true) !== ci.chunkLength) fail(`chunk at ${at}: length differs from its index`);
  const compressionLength = view.getUint32(at + 9 + 28, true);
  const recordsAt = at + 9 + 32 + compressionLength + 8;
  const recordsLength = Number(view.getBigUint64(recordsAt - 8, true));
  let indexBytes = 0n;
  for (const [channelId, offset] of ci.messageIndexOffsets) {
    const o = Number(offset);
    if (bytes[o] !== Opcode.MESSAGE_INDEX) fail(`message index for channel ${channelId} not at ${o}`);
    const len = view.getBigUint64(o + 1, true);
    indexBytes += 9n + len;
    if (view.getUint16(o + 9, true) !== channelId) fail(`message index at ${o} names another channel`);
    const n = view.getUint32(o + 11, true) / 16;
    for (let i = 0; i < n; i++) {
      const time = view.getBigUint64(o + 15 + 16 * i, true);
      const rel = Number(view.getBigUint64(o + 23 + 16 * i, true));
      if (rel >= recordsLength) fail(`message index entry beyond its chunk`);
      const m = recordsAt + rel;
      if (bytes[m] !== Opcode.MESSAGE || view.getUint16(m + 9, true) !== channelId || view.getBigUint64(m + 15, true) !== time)
        fail(`message index entry ${i} of channel ${channelId} (chunk at ${at}) does not point at its message`);
      if (time < ci.messageStartTime || time > ci.messageEndTime) fail(`message time outside its chunk index's range`);
      indexEntries++;
    }
  }
  if (indexBytes !== ci.messageIndexLength) fail(`chunk at ${at}: message index length ${indexBytes} != ${ci.messageIndexLength}`);
}

// 5. Statistics against what was read.
const st = reader.statistics;
if (!st) fail("no Statistics record");
const total = [...streamed.values()].reduce((a, b) => a + b, 0);
if (st.messageCount !== BigInt(total)) fail(`statistics say ${st.messageCount} messages, the file holds ${total}`);
if (Number(st.chunkCount) !== reader.chunkIndexes.length) fail("statistics chunk count != chunk indexes");
if (total > 0 && (st.messageStartTime !== first || st.messageEndTime !== last)) fail("statistics time range != messages'");
if (indexEntries !== total) fail(`${indexEntries} message index entries for ${total} messages`);
const topics = {};
for (const [id, count] of streamed) {
  if (indexed.get(id) !== count) fail(`channel ${id}: ${count} messages streamed, ${indexed.get(id)} through the index`);
  if (st.channelMessageCounts.get(id) !== BigInt(count)) fail(`channel ${id}: statistics count differs`);
  topics[channelTopics.get(id)] = count;
}
for (const [id, topic] of channelTopics) topics[topic] ??= 0;

console.log(JSON.stringify({
  topics,
  firstLogTimeNs: first?.toString() ?? null,
  lastLogTimeNs: last?.toString() ?? null,
  chunks: reader.chunkIndexes.length,
  schemaChecked,
  records: recordCounts,
  library: reader.header.library,
}));
