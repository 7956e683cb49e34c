// Summaries and the Markdown report of a bridge benchmark result (bench/bridge.mjs writes
// the result; bench/readme.mjs renders the README's block from the newest one). No
// dependencies.

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
const range = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x))
  return v.length ? [Math.min(...v), Math.max(...v)] : null
}

/** What issue 8 / issue 9 accept, per row (checked against the same run's C rows). */
const CHECKS = {
  'pltap-tap': 'per-frame',
  'pltap-tap-js': 'per-frame',
  'pltap-tun': 'per-frame',
  'pltap-tun-js': 'per-frame',
  'pltap-offload': 'pass',
  'pltap-offload-thread': 'pass',
  'pltap-offload-js': 'pass',
  'pltap-coalesce': 'coalesce',
}

/**
 * Medians per row over its rounds, ratios against the row's baseline (and `also`) and the
 * acceptance checks. Rows with no successful trial carry `na` or `error`.
 */
export function summarize(result) {
  const out = {}
  for (const row of result.rows) {
    const ts = result.trials.filter((t) => t.id === row.id)
    const ok = ts.filter((t) => !t.na && !t.error && t.tcp && t.udp64 && t.rtt && t.idle)
    const s = { id: row.id, label: row.label, kind: row.kind, baseline: row.baseline ?? null, rounds: ok.length }
    if (ok.length === 0) {
      s.na = ts.find((t) => t.na)?.na ?? null
      s.error = ts.find((t) => t.error)?.error ?? (s.na ? null : 'not run')
      out[row.id] = s
      continue
    }
    const pick = (f) => ok.map(f)
    s.tcpGbps = median(pick((t) => t.tcp.gbps))
    s.tcpRange = range(pick((t) => t.tcp.gbps))
    s.retransmits = median(pick((t) => t.tcp.retransmits))
    s.retransmitsTotal = pick((t) => t.tcp.retransmits ?? 0).reduce((a, b) => a + b, 0)
    s.udpPps = median(pick((t) => t.udp64.pps))
    s.udpRange = range(pick((t) => t.udp64.pps))
    s.rttP50 = median(pick((t) => t.rtt.p50))
    s.rttP99 = median(pick((t) => t.rtt.p99))
    s.rttP50Range = range(pick((t) => t.rtt.p50))
    s.rttP99Range = range(pick((t) => t.rtt.p99))
    const dense = ok.filter((t) => t.rttDense).map((t) => t.rttDense.p50)
    s.rttDenseP50 = dense.length > 0 ? median(dense) : null
    s.idleCpu = median(pick((t) => t.idle.cpuPercent))
    s.idleCpuMax = Math.max(...pick((t) => t.idle.cpuPercent))
    s.rssMb = median(pick((t) => t.rssKb / 1024))
    s.errors = ts.filter((t) => t.error).map((t) => `round ${t.round}: ${t.error}`)
    s.wake = ok.map((t) => t.forwarder?.wake).find((w) => typeof w === 'string') ?? null
    out[row.id] = s
  }
  for (const s of Object.values(out)) {
    const base = s.baseline ? out[s.baseline] : null
    if (!base || s.tcpGbps == null || base.tcpGbps == null) continue
    s.vs = {
      baseline: base.id,
      tcp: s.tcpGbps / base.tcpGbps,
      udp: s.udpPps / base.udpPps,
      p50DeltaUs: s.rttP50 - base.rttP50,
      p99Ratio: s.rttP99 / base.rttP99,
      denseP50DeltaUs: s.rttDenseP50 != null && base.rttDenseP50 != null ? s.rttDenseP50 - base.rttDenseP50 : null,
      retransmitsVs: [s.retransmitsTotal, base.retransmitsTotal],
    }
    const row = result.rows.find((r) => r.id === s.id)
    const also = row?.also ? out[row.also] : null
    if (also?.tcpGbps) s.vsAlso = { baseline: also.id, tcp: s.tcpGbps / also.tcpGbps }
    const checks = []
    const kind = CHECKS[s.id]
    if (kind === 'per-frame') {
      checks.push(['TCP ≥ 0.95× C', s.vs.tcp >= 0.95])
      checks.push(['UDP64 ≥ 0.9× C', s.vs.udp >= 0.9])
      checks.push(['RTT p50 ≤ C + 50 µs', s.vs.p50DeltaUs <= 50])
      checks.push(['RTT p99 ≤ 2× C', s.vs.p99Ratio <= 2])
    } else if (kind === 'pass') {
      checks.push(['TCP ≥ 1.0× C vnet', s.vs.tcp >= 1])
      checks.push(['retransmissions ≤ C vnet', s.retransmitsTotal <= base.retransmitsTotal])
    } else if (kind === 'coalesce') {
      checks.push(['TCP ≥ 2× plain C', s.vs.tcp >= 2])
    }
    if (s.kind === 'pltap') checks.push(['idle CPU < 1 %', s.idleCpuMax < 1])
    s.checks = checks.map(([what, pass]) => ({ what, pass }))
  }
  return out
}

const f = (x, d = 2) => (x == null ? '–' : x.toFixed(d))
const k = (x) => (x == null ? '–' : `${(x / 1000).toFixed(0)}k`)
const rangeText = (r, fmt) => (r && r[0] !== r[1] ? ` (${fmt(r[0])}–${fmt(r[1])})` : '')

/** The summary table (Markdown), shared by the results file and the README block. */
export function renderTable(result) {
  const sum = result.summary ?? summarize(result)
  const lines = [
    '| forwarder | TCP Gbit/s | ×C | retrans | UDP64 pps | ×C | RTT p50 / p99 µs | p50 − C | p99 ×C | p50 at 1 ms pings (− C) | idle CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const row of result.rows) {
    const s = sum[row.id]
    if (s.na || (s.rounds === 0 && !s.error)) {
      lines.push(
        `| ${row.label} | n/a (feature missing${s.na && !s.na.startsWith('feature missing') ? `: ${s.na}` : ''}) | | | | | | | | | |`,
      )
      continue
    }
    if (s.rounds === 0) {
      lines.push(`| ${row.label} | failed: ${String(s.error).replace(/\|/g, '/').slice(0, 120)} | | | | | | | | | |`)
      continue
    }
    const vs = s.vs
    const label = s.wake && !row.label.includes('--wake') ? `${row.label} (wake: ${s.wake})` : row.label
    const tcpVs = vs ? `${f(vs.tcp)}${s.vsAlso ? ` (${f(s.vsAlso.tcp)}× ${s.vsAlso.baseline})` : ''}` : ''
    lines.push(
      `| ${label} | ${f(s.tcpGbps)}${rangeText(s.tcpRange, (x) => f(x))} | ${tcpVs} | ${f(s.retransmits, 0)} | ${k(s.udpPps)}${rangeText(s.udpRange, k)} | ${vs ? f(vs.udp) : ''} | ${f(s.rttP50, 0)} / ${f(s.rttP99, 0)} | ${vs ? `${vs.p50DeltaUs >= 0 ? '+' : ''}${f(vs.p50DeltaUs, 0)}` : ''} | ${vs ? f(vs.p99Ratio) : ''} | ${f(s.rttDenseP50, 0)}${vs?.denseP50DeltaUs != null ? ` (${vs.denseP50DeltaUs >= 0 ? '+' : ''}${f(vs.denseP50DeltaUs, 0)})` : ''} | ${f(s.idleCpu)} |`,
    )
  }
  return lines.join('\n')
}

/** The acceptance checks as a Markdown list. */
export function renderChecks(result) {
  const sum = result.summary ?? summarize(result)
  const lines = []
  for (const s of Object.values(sum)) {
    if (!s.checks?.length) continue
    lines.push(`- ${s.label}: ${s.checks.map((c) => `${c.what} ${c.pass ? '**yes**' : '**no**'}`).join('; ')}`)
  }
  return lines.join('\n')
}

/** The whole results file. */
export function renderMarkdown(result, { chart } = {}) {
  const m = result.machine
  const st = result.settings
  const trials = result.trials
    .filter((t) => !t.na)
    .map((t) =>
      t.error
        ? `| ${t.round} | ${t.id} | error: ${t.error.replace(/\|/g, '/').slice(0, 200)} | | | | |`
        : `| ${t.round} | ${t.id} | ${f(t.tcp.gbps)} | ${t.tcp.retransmits ?? '–'} | ${k(t.udp64.pps)} (sent ${k(t.udp64.sentPps)}) | ${f(t.rtt.p50, 0)} / ${f(t.rtt.p99, 0)} (${t.rtt.replies}/${t.rtt.sent}) | ${f(t.idle.cpuPercent)} |`,
    )
  return [
    `# Bridge benchmark, ${result.startedAt}`,
    '',
    `\`${result.command}\` on ${m.nproc} vCPU (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, ${m.iperf3}, commit ${m.commit}${m.dirty ? ' (with uncommitted changes)' : ''}; load average at the end ${m.loadavg.map((x) => x.toFixed(2)).join(' ')}.`,
    '',
    `${st.rounds} round(s), C before pltap in each; iperf3 ${st.seconds} s per test (TCP single flow; UDP \`-l 64 -b 0\`, received pps); ${st.pings} pings at 10 ms (\`ping -i 0.01\`); idle CPU of the forwarder over ${st.idleSeconds} s with its devices up. Medians over the rounds, ranges in brackets; ratios against the C row of the same run (TAP rows against the plain C TAP forwarder, the offload pass-through against the C vnet forwarder).`,
    '',
    ...(result.note ? [`Note: ${result.note}`, ''] : []),
    '**Figures from a shared or loaded machine are smoke numbers**: the machine block says what it was; compare ratios within a run, not absolute values across runs.',
    '',
    renderTable(result),
    '',
    chart ? `![bridge benchmark](${chart})\n` : '',
    '## Acceptance (issues 8 and 9)',
    '',
    renderChecks(result) || '- (no pltap row with a baseline ran)',
    '',
    '## Every trial',
    '',
    '| round | row | TCP Gbit/s | retrans | UDP64 pps | RTT p50 / p99 µs (replies) | idle CPU % |',
    '|---:|---|---:|---:|---:|---:|---:|',
    ...trials,
    '',
    '## Machine',
    '',
    '```json',
    JSON.stringify(m, null, 2),
    '```',
    '',
  ].join('\n')
}
