// A webpack loader (CommonJS: webpack require()s it by path) that turns this checkout's workflows
// into "build B" of the release tests (test/support/builds.ts): processReturnWorkflow and
// conversationWorkflow each gain one timer before the point where they wait for the outside world,
// a command their recorded histories do not have. With `patched: true` the timer is behind
// patched(), as a release must put it; without, it is the unversioned change the gate must catch.
// The change is textual, at lines the test names, so it fails loudly if those lines move.
const CHANGES = {
  'returns.ts': 'refundDue = `${policy.refundAmount} ${policy.currency}`;\n',
  'conversation.ts': '    const beside = patched(ANNOUNCEMENTS_BESIDE);\n',
};

module.exports = function releaseB(source) {
  const { patched } = this.getOptions();
  const file = this.resourcePath.split(/[\\/]/).pop();
  const anchor = CHANGES[file];
  if (!anchor) return source;
  if (source.split(anchor).length !== 2) throw new Error(`release-b: ${file} no longer has the line the test changes: ${anchor}`);
  const change = patched ? `if (__patched('release-b-${file}')) await __sleep(1);\n` : 'await __sleep(1);\n';
  const header = "import { patched as __patched, sleep as __sleep } from '@temporalio/workflow';\n";
  const changed = file === 'returns.ts' ? source.replace(anchor, anchor + change) : source.replace(anchor, change + anchor);
  return header + changed;
};
