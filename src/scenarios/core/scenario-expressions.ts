/**
 * The expression language as the scenario validator uses it: parse, check against the
 * fact catalogue, the catalogue's segments and page groups and the scenario's send steps,
 * then look for conditions that can never be true. PURE.
 */
import { analyzeExpression, FACT_CATALOGUE, findFact } from './expression';
import { findNeverTrue } from './never-true.analysis';
import type { CatalogDefinition } from './scenario.schema';
import type { ExpressionLanguage, ExpressionUse } from './scenario.validator';

export function createExpressionLanguage(catalog: CatalogDefinition): ExpressionLanguage {
  const segments = Object.fromEntries(
    Object.entries(catalog.segments).map(([name, s]) => [name, { scope: s.scope, when: s.when }]),
  );
  return {
    check(use: ExpressionUse) {
      const analyzed = analyzeExpression(use.text, {
        scope: use.scope,
        context: use.context,
        segments,
        pageGroups: catalog.page_groups,
        stepIds: use.sendStepIds,
      });
      const problems = analyzed.issues.map((issue) => ({ offset: issue.span.start, message: issue.message }));
      if (analyzed.expression !== undefined && analyzed.issues.length === 0) {
        for (const p of findNeverTrue(analyzed.expression.root))
          problems.push({ offset: p.span.start, message: p.message });
      }
      return {
        problems,
        eventTypes: analyzed.references.eventTypes.map((e) => ({ type: e.type, offset: e.span.start })),
      };
    },
    factType: (name) => findFact(name)?.type,
    factNames: () => FACT_CATALOGUE.map((f) => f.name),
  };
}
