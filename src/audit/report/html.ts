/**
 * `--format html`: one self-contained file (no external assets: inline CSS,
 * inline JS, inline SVG) with a severity chart, filters by status and area,
 * and each finding's detail, objects and remediation. Works with scripts off
 * too: everything is visible until a filter hides it.
 */
import { redact } from '../../redact/redactor.js';
import { areaCoverage, skippedGrantsHeading, type AreaCoverage } from '../coverage.js';
import { AREA_TITLES, type Finding } from '../finding.js';
import { blockingFindings, type AuditReport } from '../report-model.js';
import { SEVERITIES, type Severity } from '../severity.js';
import { groupByArea } from './order.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const h = (text: string): string => redact(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const COLORS: Record<Severity, string> = {
  critical: '#7f1d1d',
  high: '#dc2626',
  medium: '#ea580c',
  low: '#ca8a04',
  info: '#2563eb',
};

/** Bars of failing findings per severity, as inline SVG. */
function severityChart(report: AuditReport): string {
  const counts = SEVERITIES.map((s) => report.summary.failing[s]);
  const max = Math.max(1, ...counts);
  const barWidth = 64,
    gap = 24,
    height = 160,
    top = 24;
  const bars = SEVERITIES.map((s, i) => {
    const value = report.summary.failing[s];
    const barHeight = Math.round((value / max) * (height - top));
    const x = 40 + i * (barWidth + gap);
    const y = height - barHeight;
    return `<g><rect x="${x}" y="${y}" width="${barWidth}" height="${barHeight}" fill="${COLORS[s]}" rx="3"><title>${value} ${s}</title></rect>
<text x="${x + barWidth / 2}" y="${y - 6}" text-anchor="middle" class="count">${value}</text>
<text x="${x + barWidth / 2}" y="${height + 18}" text-anchor="middle" class="label">${s}</text></g>`;
  }).join('\n');
  const width = 40 + SEVERITIES.length * (barWidth + gap);
  return `<svg id="severity-chart" role="img" aria-label="Failing findings by severity" viewBox="0 0 ${width} ${height + 28}" width="${width}" height="${height + 28}" xmlns="http://www.w3.org/2000/svg">
<line x1="30" y1="${height}" x2="${width - 10}" y2="${height}" stroke="#9ca3af"/>
${bars}</svg>`;
}

function statusKey(f: Finding): string {
  return f.status === 'fail' && (f.suppressed || f.inBaseline) ? 'accepted' : f.status;
}

function card(f: Finding): string {
  const status = statusKey(f);
  const objects =
    f.objects.length > 0
      ? `<table class="objects"><thead><tr><th>Object</th><th>Type</th><th>Value</th></tr></thead><tbody>${f.objects
          .map(
            (o) =>
              `<tr><td><code>${h(o.name)}</code></td><td>${h(o.type)}</td><td>${h(o.value ?? '')}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '';
  const note = f.suppressed
    ? `<p class="note">Suppressed: ${h(f.suppressed.reason)}${f.suppressed.expires ? ` (until ${h(f.suppressed.expires)})` : ''}</p>`
    : f.inBaseline
      ? '<p class="note">Known from the baseline.</p>'
      : '';
  const refs = f.references
    .map((r) =>
      r.startsWith('https://')
        ? `<li><a href="${h(r)}" rel="noreferrer">${h(r)}</a></li>`
        : `<li>${h(r)}</li>`,
    )
    .join('');
  return `<details class="finding ${status}" data-status="${status}" data-area="${f.area}" data-severity="${f.severity}" id="${h(f.id)}"${status === 'fail' || status === 'error' ? ' open' : ''}>
<summary><span class="badge ${status}">${status}</span> <span class="sev sev-${f.severity}">${f.severity}</span> <code>${h(f.id)}</code> ${h(f.title)}</summary>
<div class="body"><p class="detail">${h(f.detail)}</p>${note}${objects}
${f.status === 'skip' && f.enable ? '<p class="note">The grant that runs this check is in <a href="#skipped-grants">To run the skipped checks</a>.</p>' : ''}
<h4>Why it matters</h4><p>${h(f.rationale)}</p>
<h4>Remediation</h4><pre class="remediation">${h(f.remediation)}</pre>
<h4>References</h4><ul>${refs}</ul></div></details>`;
}

const CSS = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f9fafb}
body{margin:0 auto;max-width:1180px;padding:24px}
h1{font-size:1.5rem;margin:0 0 4px} h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h4{margin:12px 0 4px;font-size:.85rem;text-transform:uppercase;color:#4b5563}
.meta{color:#4b5563;margin:0 0 16px} .top{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.panel{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px}
.counts{display:grid;grid-template-columns:repeat(3,auto);gap:6px 18px;font-size:.95rem}
.counts b{font-size:1.3rem}
.verdict{font-weight:600;margin-top:10px} .verdict.bad{color:#b91c1c} .verdict.good{color:#15803d}
svg .count{font-size:13px;font-weight:600;fill:#111827} svg .label{font-size:12px;fill:#374151}
.filters{display:flex;gap:16px;flex-wrap:wrap;align-items:center;margin:18px 0 4px;padding:10px 14px;background:#fff;border:1px solid #e5e7eb;border-radius:8px}
.filters label{cursor:pointer;user-select:none} select{padding:2px 6px}
details.finding{background:#fff;border:1px solid #e5e7eb;border-left:5px solid #9ca3af;border-radius:6px;margin:6px 0}
details.fail{border-left-color:#dc2626} details.error{border-left-color:#9333ea} details.skip{border-left-color:#ca8a04} details.pass{border-left-color:#16a34a} details.accepted{border-left-color:#6b7280}
summary{cursor:pointer;padding:8px 12px} .body{padding:0 14px 12px}
.badge{display:inline-block;min-width:64px;text-align:center;border-radius:4px;padding:1px 6px;font-size:.8rem;font-weight:600;color:#fff;background:#6b7280}
.badge.fail{background:#dc2626} .badge.error{background:#9333ea} .badge.skip{background:#ca8a04} .badge.pass{background:#16a34a}
.sev{font-size:.8rem;font-weight:600;text-transform:uppercase;margin:0 4px}
${SEVERITIES.map((s) => `.sev-${s}{color:${COLORS[s]}}`).join('')}
pre{background:#f3f4f6;border-radius:4px;padding:8px 10px;white-space:pre-wrap;word-break:break-word;font-size:.85rem}
table.objects{border-collapse:collapse;font-size:.85rem;margin:6px 0} table.objects td,table.objects th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left}
.note{color:#4b5563;font-style:italic} .muted{color:#6b7280;font-weight:400;font-size:.9rem} .unverified{color:#a16207} .hidden{display:none} #shown{color:#4b5563}
ul{margin:4px 0;padding-left:20px;font-size:.9rem}
`;

const SCRIPT = `
(function(){
  var boxes=document.querySelectorAll('input[data-filter-status]');
  var area=document.getElementById('area-filter');
  var findings=document.querySelectorAll('details.finding');
  function apply(){
    var statuses={};boxes.forEach(function(b){statuses[b.getAttribute('data-filter-status')]=b.checked;});
    var shown=0;
    findings.forEach(function(f){
      var ok=statuses[f.getAttribute('data-status')]&&(area.value==='all'||area.value===f.getAttribute('data-area'));
      f.classList.toggle('hidden',!ok); if(ok) shown++;
    });
    document.querySelectorAll('section.area').forEach(function(s){
      s.classList.toggle('hidden',s.querySelectorAll('details.finding:not(.hidden)').length===0);
    });
    document.getElementById('shown').textContent=shown+' of '+findings.length+' checks shown';
    document.body.setAttribute('data-filtered','true');
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  area.addEventListener('change',apply);
  apply();
})();
`;

/** An area's heading: failing count, or why it is not verified. */
function areaHeading(area: AreaCoverage): string {
  const skipped = `${area.skip} of ${area.checks} checks skipped`;
  const note =
    area.status === 'fail'
      ? ` — ${area.fail} failing`
      : area.status === 'not-verified'
        ? ` — <span class="unverified">not verified: ${skipped}</span>`
        : area.skip > 0
          ? ` <span class="muted">(${skipped})</span>`
          : '';
  return `<h2>${h(area.title)}${note}</h2>`;
}

function grantsPanel(report: AuditReport): string {
  const grants = report.skippedGrants;
  if (!grants) return '';
  return `<div class="panel" id="skipped-grants"><h4>${h(skippedGrantsHeading(grants))}</h4><pre>${h(grants.grants.join('\n'))}</pre>
<p class="muted">${grants.checks.map((id) => `<a href="#${h(id)}"><code>${h(id)}</code></a>`).join(', ')}</p></div>`;
}

export function formatHtml(report: AuditReport): string {
  const t = report.target;
  const s = report.summary;
  const blocking = blockingFindings(report).length;
  const groups = groupByArea(report.findings);
  const coverage = new Map(areaCoverage(report.findings).map((a) => [a.area, a]));
  const unverified = [...coverage.values()].filter((a) => a.status === 'not-verified');
  const statusCounts: Record<string, number> = {
    fail: s.fail,
    error: s.error,
    skip: s.skip,
    pass: s.pass,
    accepted: s.suppressed + s.baseline,
  };
  const filters = ['fail', 'error', 'skip', 'pass', 'accepted']
    .map(
      (st) =>
        `<label><input type="checkbox" data-filter-status="${st}" ${st === 'pass' ? '' : 'checked'}> ${st} (${statusCounts[st]})</label>`,
    )
    .join('\n');
  const expired = report.suppressions.expired.length
    ? `<div class="panel"><h4>Expired suppressions (no longer applied)</h4><ul>${report.suppressions.expired
        .map(
          (x) =>
            `<li><code>${h(x.id)}${x.object ? `:${h(x.object)}` : ''}</code> expired ${h(x.expires ?? '')}: ${h(x.reason)}</li>`,
        )
        .join('')}</ul></div>`
    : '';
  const connection = report.connection.ok
    ? `connected as <b>${h(report.privileges?.role ?? t.user)}</b> over ${report.connection.tls ? h(`${report.connection.tls.protocol} (${report.connection.tls.cipher})`) : '<b>an unencrypted session</b>'}`
    : report.connection.skipped
      ? `not connected: ${h(report.connection.skipped)}`
      : `<b>could not connect</b>: [${h(report.connection.error?.code ?? '')}] ${h(report.connection.error?.message ?? '')}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>pgwarden audit — ${h(`${t.host}:${t.port}/${t.database}`)}</title><style>${CSS}</style></head>
<body>
<h1>pgwarden audit</h1>
<p class="meta">${h(`${t.user}@${t.host}:${t.port}/${t.database}`)}${t.serverVersion ? ` — PostgreSQL ${h(t.serverVersion)}` : ''} — environment ${h(t.environment)} — ${h(report.generatedAt)} — ${connection}</p>
<div class="top">
<div class="panel"><h4>Failing findings by severity</h4>${severityChart(report)}</div>
<div class="panel"><h4>Summary</h4><div class="counts" id="summary">
<span>passed</span><b data-count="pass">${s.pass}</b><span></span>
<span>failed</span><b data-count="fail">${s.fail}</b><span></span>
<span>skipped</span><b data-count="skip">${s.skip}</b><span></span>
<span>errors</span><b data-count="error">${s.error}</b><span></span>
<span>accepted</span><b data-count="accepted">${s.suppressed + s.baseline}</b><span>(suppressed or baseline)</span>
</div>
<p class="verdict ${blocking > 0 ? 'bad' : 'good'}">${blocking > 0 ? `${blocking} failing finding(s) at or above ${h(report.failOn)}` : `No failing finding at or above ${h(report.failOn)}`}</p>
${unverified.length ? `<p class="verdict unverified" id="not-verified">Not verified (most checks skipped): ${unverified.map((a) => h(a.title)).join(', ')}</p>` : ''}</div>
${grantsPanel(report)}
${expired}
</div>
<div class="filters"><b>Show:</b>
${filters}
<label>Area <select id="area-filter"><option value="all">all areas</option>${groups.map((g) => `<option value="${g.area}">${h(AREA_TITLES[g.area])}</option>`).join('')}</select></label>
<span id="shown"></span></div>
${groups.map((g) => `<section class="area" data-area="${g.area}" data-coverage="${coverage.get(g.area)!.status}">${areaHeading(coverage.get(g.area)!)}\n${g.findings.map(card).join('\n')}</section>`).join('\n')}
<script>${SCRIPT}</script>
</body></html>
`;
}
