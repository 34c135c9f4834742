#!/usr/bin/python3
"""Writes tests/fixtures/llamacpp/bpe4k.tokenizer.json.gz: the bundled model's 4,096-token byte-level BPE
(models/default/tokenizer.json) with Llama 3's pre-tokenizer (split regex + byte level, ignore_merges) and a
<|begin_of_text|> BOS, so a GGUF written with it names the "llama-bpe" pre-tokenizer that llama.cpp knows. The small
vocabulary keeps the parity tests' random-weight files small (token_embd and output are vocab x 256)."""
import gzip, json, os

repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
src = json.load(open(os.path.join(repo, 'models', 'default', 'tokenizer.json'), encoding='utf-8'))
llama3 = json.load(gzip.open(os.path.join(repo, 'data', 'tokenizers', 'llama3_1', 'tokenizer.json.gz'), 'rt', encoding='utf-8'))
bos_id = max(max(src['model']['vocab'].values()), max(a['id'] for a in src['added_tokens'])) + 1
src['added_tokens'].append({'id': bos_id, 'content': '<|begin_of_text|>', 'single_word': False, 'lstrip': False,
                            'rstrip': False, 'normalized': False, 'special': True})
src['pre_tokenizer'] = llama3['pre_tokenizer']
src['model']['ignore_merges'] = True
post = json.loads(json.dumps(llama3['post_processor']))
for p in post['processors']:
    if p['type'] == 'TemplateProcessing':
        p['special_tokens']['<|begin_of_text|>']['ids'] = [bos_id]
src['post_processor'] = post
out = os.path.join(repo, 'tests', 'fixtures', 'llamacpp', 'bpe4k.tokenizer.json.gz')
with gzip.GzipFile(out + '.tmp', 'wb', mtime=0) as f:
    f.write(json.dumps(src, ensure_ascii=False).encode('utf-8'))
os.replace(out + '.tmp', out)
print(out, bos_id)
