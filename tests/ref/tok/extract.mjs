// extract.mjs OUTDIR: write the vocabularies and merges that ship inside the npm
// packages llama-tokenizer-js (Llama 2) and llama3-tokenizer-js (Llama 3) as
// JSON, for make_gguf.py to turn into GGUF tokenizer metadata.
import fs from 'node:fs';
import path from 'node:path';
import llama2 from 'llama-tokenizer-js';
import llama3 from 'llama3-tokenizer-js';

const out = process.argv[2];

function orderedMerges(map) {
  return [...map.entries()].sort((a, b) => a[1] - b[1]).map(e => e[0]);
}

// Llama 2: SentencePiece. The package keeps merge priorities, not scores; a
// piece's score is minus the rank of the first merge that makes it, which
// orders merges exactly as the package does.
{
  const tokens = llama2.vocabById;
  const merges = orderedMerges(llama2.merges);
  const scores = new Array(tokens.length).fill(0);
  const seen = new Set();
  merges.forEach((m, r) => {
    const id = llama2.vocabByString.get(m.replace(' ', ''));
    if (id !== undefined && !seen.has(id)) { seen.add(id); scores[id] = -(r + 1); }
  });
  const types = tokens.map((t, i) => i === 0 ? 2 : (i === 1 || i === 2) ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1);
  fs.writeFileSync(path.join(out, 'llama2.json'), JSON.stringify({
    model: 'llama', pre: 'default', tokens, scores, types, merges: [],
    bos: 1, eos: 2, unk: 0, add_bos: true }));
}

// Llama 3: byte-level BPE; the package appends its 256 special tokens.
{
  const tokens = llama3.vocabById;
  const merges = orderedMerges(llama3.merges);
  const types = tokens.map(t => /^<\|.*\|>$/.test(t) && tokens.indexOf(t) >= 128000 ? 3 : 1);
  fs.writeFileSync(path.join(out, 'llama3.json'), JSON.stringify({
    model: 'gpt2', pre: 'llama-bpe', tokens, scores: null, types, merges,
    bos: 128000, eos: 128009, unk: -1, add_bos: true }));
}
