// Runs the seed's JavaScript consumer (seed_consumer.js, unchanged but for its URL)
// under node against a live server, and prints one JSON object: for each question,
// every UI call the consumer made, in order.
//
//   node tests/js/run_consumer.mjs http://127.0.0.1:PORT ["another question"]
//
// The script runs as written (its own question, 'Find Python experts') and, when a
// second argument is given, once more with that question in place of the seed's.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const [base, other] = process.argv.slice(2);
const seed = readFileSync(new URL('./seed_consumer.js', import.meta.url), 'utf8')
  .replaceAll('https://<your-space>.hf.space', base);

const results = {};

function run(question, source) {
  const calls = [];
  results[question] = calls;
  const context = vm.createContext({
    fetch,
    TextDecoder,
    setStatusBar: (text) => calls.push(['setStatusBar', text]),
    addToolToTimeline: (tool, state) => calls.push(['addToolToTimeline', tool, state]),
    updateToolInTimeline: (tool, state) => calls.push(['updateToolInTimeline', tool, state]),
    appendMarkdown: (md) => calls.push(['appendMarkdown', md]),
    showError: (message) => calls.push(['showError', message]),
  });
  vm.runInContext(source, context, { filename: 'seed_consumer.js' });
}

run('Find Python experts', seed);
if (other) {
  run(other, seed.replace("chat('Find Python experts',", `chat(${JSON.stringify(other)},`));
}

// The consumer's promise is not returned by the seed's usage code: print once node has
// nothing left to do, i.e. every stream has ended.
process.once('beforeExit', () => {
  process.stdout.write(JSON.stringify(results) + '\n');
});
