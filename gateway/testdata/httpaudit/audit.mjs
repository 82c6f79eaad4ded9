// Runs graphql-http's audit of the GraphQL-over-HTTP specification against the
// endpoint given, prints every audit that is not ok, and exits 1 if there is one.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url });
let fail = 0, warn = 0;
for (const r of results) {
  if (r.status === 'ok') continue;
  if (r.status === 'error') fail++; else warn++;
  console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
}
console.log(`${url}: ${results.length} audits, ${results.length - fail - warn} ok, ${warn} warn, ${fail} error`);
process.exit(fail + warn > 0 ? 1 : 0);
