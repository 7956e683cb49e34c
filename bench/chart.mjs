// A plain SVG chart of a bridge benchmark result, no dependencies: one horizontal bar per
// row in three panels (TCP Gbit/s, UDP 64-byte kpps, RTT p50 with the p99 as a tick).
//
//   node bench/chart.mjs bench/results/bridge-<UTC>.json [out.svg]   (default: next to it)
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { summarize } from './bridge-report.mjs'

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The chart of `result` (what bench/bridge.mjs writes) as an SVG document. */
export function bridgeChart(result) {
  const sum = result.summary ?? summarize(result)
  const rows = result.rows.map((r) => ({ ...r, s: sum[r.id] }))
  const panels = [
    { title: 'TCP Gbit/s (higher is better)', value: (s) => s.tcpGbps, fmt: (x) => x.toFixed(2) },
    { title: 'UDP 64 B kpps (higher is better)', value: (s) => s.udpPps && s.udpPps / 1000, fmt: (x) => x.toFixed(0) },
    { title: 'RTT p50 µs, tick p99 (lower is better)', value: (s) => s.rttP50, tick: (s) => s.rttP99, fmt: (x) => x.toFixed(0) },
  ]
  const labelW = 300
  const panelW = 230
  const gap = 20
  const rowH = 22
  const top = 58
  const width = labelW + panels.length * (panelW + gap)
  const height = top + rows.length * rowH + 34
  const out = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(`pltap bridge vs a C forwarder, ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`)}</text>`,
    `<text x="8" y="36" fill="#555">${esc(`${result.machine.nproc} vCPU, Linux ${result.machine.kernel}, ${result.settings.rounds} round(s) × ${result.settings.seconds} s, medians; grey = C, blue = pltap`)}</text>`,
  )
  rows.forEach((r, i) => {
    const y = top + i * rowH
    if (i % 2 === 0) out.push(`<rect x="0" y="${y - 2}" width="${width}" height="${rowH}" fill="#f6f6f6"/>`)
    out.push(`<text x="8" y="${y + 13}">${esc(r.label)}</text>`)
  })
  panels.forEach((p, j) => {
    const x0 = labelW + j * (panelW + gap)
    const vals = rows.flatMap((r) => (r.s && !r.s.na && r.s.rounds ? [p.value(r.s), p.tick?.(r.s)] : [])).filter((v) => v > 0)
    const max = Math.max(...vals, 1e-9)
    const scale = (panelW - 80) / max
    out.push(`<text x="${x0}" y="${top - 8}" font-weight="bold">${esc(p.title)}</text>`)
    out.push(`<line x1="${x0}" y1="${top - 2}" x2="${x0}" y2="${top + rows.length * rowH}" stroke="#999"/>`)
    rows.forEach((r, i) => {
      const y = top + i * rowH
      const s = r.s
      if (!s || s.na || !s.rounds) {
        out.push(`<text x="${x0 + 4}" y="${y + 13}" fill="#999">${s?.na || !s?.error ? 'n/a (feature missing)' : 'failed'}</text>`)
        return
      }
      const v = p.value(s)
      if (v == null) return
      const w = Math.max(1, v * scale)
      out.push(
        `<rect x="${x0}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${r.kind === 'c' ? '#9a9a9a' : '#2b6cb0'}"/>`,
      )
      let labelX = x0 + w + 4
      const t = p.tick?.(s)
      if (t != null) {
        const tx = x0 + t * scale
        out.push(`<line x1="${tx.toFixed(1)}" y1="${y}" x2="${tx.toFixed(1)}" y2="${y + rowH - 4}" stroke="#c05621" stroke-width="2"/>`)
        labelX = Math.max(labelX, tx + 4)
      }
      out.push(`<text x="${labelX.toFixed(1)}" y="${y + 13}">${esc(p.fmt(v))}${t != null ? esc(` / ${p.fmt(t)}`) : ''}</text>`)
    })
  })
  out.push(
    `<text x="8" y="${height - 10}" fill="#555">${esc('Smoke figures unless made on a quiet machine; see the results file next to this chart.')}</text>`,
    '</svg>',
    '',
  )
  return out.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2)
  if (!input) {
    console.error('usage: node bench/chart.mjs <bridge-results.json> [out.svg]')
    process.exit(2)
  }
  const target = output ?? input.replace(/\.json$/, '.svg')
  writeFileSync(target, bridgeChart(JSON.parse(readFileSync(input, 'utf8'))))
  console.error(`chart: wrote ${target}`)
}
