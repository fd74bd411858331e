/**
 * The expression language as the scenario validator uses it: parse, check against the
 * fact catalogue, the catalogue's segments and page groups and the scenario's send steps,
 * then look for conditions that can never be true. PURE.
 */
import { type AnalyzedExpression, analyzeExpression, FACT_CATALOGUE, findFact } from './expression';
import { findNeverTrue } from './never-true.analysis';
import type { CatalogDefinition } from './scenario.schema';
import type { ExpressionLanguage, ExpressionUse } from './scenario.validator';

/** Parses and checks an expression with a catalogue's segments and page groups. */
export function analyzeWithCatalog(
  text: string,
  catalog: CatalogDefinition,
  use: { scope: 'account' | 'contact'; context: 'population' | 'enrollment'; stepIds?: ReadonlySet<string> },
): AnalyzedExpression {
  return analyzeExpression(text, {
    scope: use.scope,
    context: use.context,
    segments: catalog.segments,
    pageGroups: catalog.page_groups,
    ...(use.stepIds ? { stepIds: use.stepIds } : {}),
  });
}

export function createExpressionLanguage(catalog: CatalogDefinition): ExpressionLanguage {
  return {
    check(use: ExpressionUse) {
      const analyzed = analyzeWithCatalog(use.text, catalog, {
        scope: use.scope,
        context: use.context,
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
