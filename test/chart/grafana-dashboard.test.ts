import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR } from '../support/helm-chart.ts';

// Grafana's dashboard-linter cannot be installed here (its Go module is refused by the proxy), so
// its panel rules are checked directly: panel-title-description-rule, panel-units-rule,
// panel-datasource-rule and panel-no-targets-rule (github.com/grafana/dashboard-linter, docs/rules).
const dashboard = JSON.parse(readFileSync(resolve(CHART_DIR, 'files/grafana-dashboard.json'), 'utf8'));

// Unit ids from Grafana's value formats (packages/grafana-data/src/valueFormats/categories.ts) a
// dashboard like this one may use; the linter accepts any id of that list.
const GRAFANA_UNITS = new Set(['none', 'short', 'percent', 'percentunit', 'bytes', 'decbytes', 'bits', 'ns', 'µs', 'ms', 's', 'm', 'h', 'd', 'dtdurations', 'dtdurationms', 'dateTimeAsIso', 'dateTimeAsUS', 'dateTimeFromNow', 'ops', 'reqps', 'rps', 'wps', 'rowsps']);
// The panel types panel-units-rule checks.
const UNIT_PANEL_TYPES = new Set(['stat', 'singlestat', 'graph', 'table', 'timeseries', 'gauge']);

describe('the Grafana dashboard, by dashboard-linter panel rules', () => {
  const panels: any[] = dashboard.panels;

  it('has panels, each with a title and a description (panel-title-description-rule)', () => {
    expect(panels.length).toBeGreaterThan(3);
    for (const panel of panels) {
      expect(panel.title, `panel ${panel.id}`).toMatch(/\S/);
      expect(panel.description, `panel ${panel.id} "${panel.title}"`).toMatch(/\S.{19,}/);
    }
  });

  it('gives every panel a valid unit (panel-units-rule)', () => {
    for (const panel of panels.filter((p) => UNIT_PANEL_TYPES.has(p.type))) {
      const unit = panel.fieldConfig?.defaults?.unit;
      expect(GRAFANA_UNITS.has(unit), `panel ${panel.id} "${panel.title}" unit ${JSON.stringify(unit)}`).toBe(true);
    }
  });

  it('queries through the $datasource variable, with at least one target (panel-datasource-rule, panel-no-targets-rule)', () => {
    expect(dashboard.templating.list.find((v: any) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of panels) {
      expect(['$datasource', '${datasource}'], `panel ${panel.id}`).toContain(panel.datasource.uid);
      expect(panel.targets.length, `panel ${panel.id}`).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.expr, `panel ${panel.id}`).toMatch(/\S/);
    }
  });

  it('is read-only: provisioned by the sidecar, an edit in the UI would be lost at the next sync', () => {
    expect(dashboard.editable).toBe(false);
  });
});
