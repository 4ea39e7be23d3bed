// GPT-2 token ids of every line of gpt2_corpus.txt (and the whole file as one text) from the npm package
// gpt-3-encoder, an independent implementation of GPT-2's byte-level BPE.
// Run: npm pack gpt-3-encoder && tar xzf gpt-3-encoder-*.tgz && node Fixtures/Golden/make_gpt2_tokens.js package
const fs = require('fs');
const path = require('path');
const encoderDir = path.resolve(process.argv[2] || 'package');
const { encode } = require(encoderDir);
const corpus = fs.readFileSync(path.join(__dirname, 'gpt2_corpus.txt'), 'utf-8');
const texts = corpus.split('\n').filter(line => line.length > 0);
texts.push(corpus);
const cases = texts.map(text => ({ text, ids: encode(text) }));
const version = JSON.parse(fs.readFileSync(path.join(encoderDir, 'package.json'), 'utf-8')).version;
const header = JSON.stringify({ generator: 'Fixtures/Golden/make_gpt2_tokens.js', encoder: 'gpt-3-encoder ' + version });
fs.writeFileSync(path.join(__dirname, 'gpt2_tokens.json'),
  header.slice(0, -1) + ',"cases":[\n' + cases.map(c => JSON.stringify(c)).join(',\n') + '\n]}\n');
console.log(`wrote ${cases.length} cases`);
