#!/usr/bin/python3
"""Records tests/fixtures/llamacpp/chat_templates.json: llama_chat_apply_template's rendering of a fixed conversation
with the chat_template of every data/tokenizers/*/tokenizer_config.json. llama.cpp's C API does not run Jinja: it
recognises the template family and formats it in C++ (no BOS, no date header), so these are what llama.cpp's own
chat uses, not what the Jinja source renders. Templates it does not recognise are recorded as null.
Usage: /usr/bin/python3 tools/llamacpp/make_chat_template_fixtures.py  (after tools/llamacpp/build.sh)"""
import json, os, subprocess, sys, tempfile

repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
oracle = os.path.join(repo, 'tools', 'llamacpp', 'build', 'llama_oracle')
conversation = [['system', 'You are terse.'], ['user', 'Hi there'], ['assistant', 'Hello!'], ['user', 'What is 2+2?']]
result = {'conversation': [{'role': r, 'content': c} for r, c in conversation], 'add_generation_prompt': True, 'rendered': {}}
tok_dir = os.path.join(repo, 'data', 'tokenizers')
for name in sorted(os.listdir(tok_dir)):
    cfg = os.path.join(tok_dir, name, 'tokenizer_config.json')
    if not os.path.isfile(cfg):
        continue
    template = json.load(open(cfg, encoding='utf-8')).get('chat_template')
    if not isinstance(template, str):
        continue
    with tempfile.NamedTemporaryFile('w', suffix='.jinja', delete=False, encoding='utf-8') as f:
        f.write(template)
    args = [oracle, 'template', '--file', f.name] + [x for m in conversation for x in m]
    p = subprocess.run(args, capture_output=True, text=True)
    os.unlink(f.name)
    result['rendered'][name] = json.loads(p.stdout)['text'] if p.returncode == 0 else None
out = os.path.join(repo, 'tests', 'fixtures', 'llamacpp', 'chat_templates.json')
with open(out + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(result, f, ensure_ascii=False, indent=1)
    f.write('\n')
os.replace(out + '.tmp', out)
print(out, file=sys.stderr)
