import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { LOCALES, loadCatalog, templateLocales } from '../messaging/templates/template-catalog';
import { BUILT_IN_EVENT_TYPES } from './core/built-in-events';
import { createExpressionLanguage } from './core/scenario-expressions';
import {
  type SourceFile,
  type ValidationEnvironment,
  type ValidationResult,
  validateScenarios,
} from './core/scenario.validator';

/** The shared catalogue beside the scenarios: segments, page groups, declared event types. */
export const CATALOG_FILE = '_catalog.yaml';

/**
 * Scenario files on disk: `scenarios/<id>.yaml`; files and folders starting with `_`
 * (the catalogue, `_schema/`) are not scenarios.
 */
export function listScenarioFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name) && !name.startsWith('_'))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .sort();
}

function read(path: string, cwd: string): SourceFile {
  return { file: relative(cwd, path) || path, text: readFileSync(path, 'utf8') };
}

/** Template name -> locales it has, from the templates folder. */
export function templateLocalesIn(templatesDir: string): Map<string, string[]> {
  const catalog = loadCatalog(templatesDir);
  return new Map([...catalog.templates].map(([name, t]) => [name, templateLocales(t)]));
}

export function validationEnvironment(templatesDir: string): ValidationEnvironment {
  return {
    templates: templateLocalesIn(templatesDir),
    locales: LOCALES,
    builtInEventTypes: BUILT_IN_EVENT_TYPES,
    expressions: createExpressionLanguage,
  };
}

export interface ValidateFilesOptions {
  /** Scenario files or folders (a folder means its `*.yaml` scenarios). */
  paths: string[];
  templatesDir: string;
  /** The catalogue; default `_catalog.yaml` in the folder of the first scenario. */
  catalogPath?: string | undefined;
  cwd?: string | undefined;
}

/** Reads the files and validates them together with their catalogue. */
export function validateScenarioPaths(options: ValidateFilesOptions): ValidationResult & { files: string[] } {
  const cwd = options.cwd ?? process.cwd();
  const files = options.paths.flatMap((p) => (existsSync(p) && statSync(p).isDirectory() ? listScenarioFiles(p) : [p]));
  const scenarioFiles = files.filter((f) => basename(f) !== CATALOG_FILE);
  const first = options.paths[0];
  const catalogPath =
    options.catalogPath ??
    (first === undefined
      ? undefined
      : join(existsSync(first) && statSync(first).isDirectory() ? first : dirname(first), CATALOG_FILE));
  const catalog = catalogPath !== undefined && existsSync(catalogPath) ? read(catalogPath, cwd) : undefined;
  const sources: SourceFile[] = [];
  const missing: string[] = [];
  for (const f of scenarioFiles) {
    if (existsSync(f)) sources.push(read(f, cwd));
    else missing.push(f);
  }
  const result = validateScenarios(sources, catalog, validationEnvironment(options.templatesDir));
  for (const f of missing)
    result.issues.unshift({ file: relative(cwd, f) || f, line: 1, col: 1, message: 'no such file' });
  return { ...result, files: scenarioFiles };
}
