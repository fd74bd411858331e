import mjml2html from 'mjml';

export interface MjmlIssue {
  /** Line in the MJML source given to the compiler (1-based). */
  line: number;
  message: string;
}

export interface MjmlOutput {
  html: string;
  errors: MjmlIssue[];
}

/** Compiles MJML to HTML (slow: tens of ms). Validation errors are returned, never thrown. */
export type MjmlCompile = (mjml: string) => Promise<MjmlOutput>;

export const compileMjml: MjmlCompile = async (mjml) => {
  const result = await mjml2html(mjml, { validationLevel: 'soft', keepComments: false });
  return { html: result.html, errors: result.errors.map((e) => ({ line: e.line, message: e.message })) };
};
