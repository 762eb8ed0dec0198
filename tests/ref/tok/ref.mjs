// ref.mjs WORKDIR [FIRST]: compare the C tokenizer (through tokdrv) with independent
// JavaScript tokenizers on a corpus of tricky text; prints TAP lines.
//   Llama 3 (llama3-tokenizer-js): byte-level BPE, llama-bpe regex, special tokens
//   Llama 2 (llama-tokenizer-js):  SentencePiece BPE with byte fallback
// Each corpus case is one TAP line per family: ids must be equal, and the C
// streaming decode of the ids must give back the text.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import llama2 from 'llama-tokenizer-js';
import llama3 from 'llama3-tokenizer-js';

const dir = process.argv[2];
let n = Number(process.argv[3] || 1) - 1; // TAP numbers continue the calling script's
const drv = path.join(dir, 'tokdrv');
const corpus = JSON.parse(fs.readFileSync(new URL('./corpus.json', import.meta.url), 'utf8'));
// Long inputs built here rather than stored.
const para = corpus.find(c => c.name === 'prose').text;
corpus.push({ name: 'long prose x40', text: Array(40).fill(para).join('\n\n') });
corpus.push({ name: '3000 x a', text: 'a'.repeat(3000) });
corpus.push({ name: '2000 spaces then word', text: ' '.repeat(2000) + 'word' });
corpus.push({ name: '1000 digits', text: '0123456789'.repeat(100) });
corpus.push({ name: 'emoji run', text: '😀🎉🦙'.repeat(200) });

function tap(ok, name, detail) {
  n++;
  console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!ok && detail) console.log('# ' + detail.replace(/\n/g, '\n# '));
}

const hex = s => Buffer.from(s, 'utf8').toString('hex');
function runDrv(gguf, mode, flags, lines) {
  const out = execFileSync(drv, [gguf, mode, ...flags], { input: lines.join('\n') + '\n', maxBuffer: 1 << 28 });
  return out.toString().split('\n').slice(0, lines.length);
}

function family(label, gguf, flags, expectFn, decodeExpect) {
  const got = runDrv(gguf, 'encode', flags, corpus.map(c => hex(c.text)));
  const dec = runDrv(gguf, 'decode', [], got.map(l => l.startsWith('ERR') ? '' : l));
  corpus.forEach((c, i) => {
    const want = expectFn(c.text).join(' ');
    const text = Buffer.from(dec[i] === 'BADUTF8' ? '' : dec[i], 'hex').toString('utf8');
    const back = decodeExpect(c.text);
    let why = null;
    if (got[i] !== want) {
      const a = got[i].split(' '), b = want.split(' ');
      let k = 0;
      while (k < a.length && a[k] === b[k]) k++;
      why = `ids differ at ${k}: C [${a.slice(k, k + 8).join(' ')}] vs JS [${b.slice(k, k + 8).join(' ')}] (C ${a.length} ids, JS ${b.length})`;
    } else if (dec[i] === 'BADUTF8') {
      why = 'streamed decode produced invalid UTF-8';
    } else if (text !== back) {
      why = `decode gives ${JSON.stringify(text.slice(0, 80))}, want ${JSON.stringify(back.slice(0, 80))}`;
    }
    tap(!why, `${label}: ${c.name}`, why);
  });
}

const specials3 = /<\|(?:begin_of_text|end_of_text|start_header_id|end_header_id|eot_id|eom_id|python_tag|finetune_right_pad_id|reserved_special_token_\d+)\|>/g;
family('llama3', path.join(dir, 'llama3.gguf'), ['bos', 'special'],
  t => llama3.encode(t, { bos: true, eos: false }),
  t => t.replace(specials3, ''));
// llama-tokenizer-js prefixes one space and never parses special tokens. For
// empty text it returns [] by a special case; SentencePiece, Hugging Face and
// llama.cpp give [BOS], which is what we expect.
family('llama2', path.join(dir, 'llama2.gguf'), ['bos'],
  t => t === '' ? [1] : llama2.encode(t, true, true),
  t => t === '' ? '' : ' ' + t);
fs.writeFileSync(path.join(dir, 'last-tap'), String(n));
