"""Turns schema-diff output (up SQL on stdin file 1, down SQL file 2) into a TypeORM migration file.

usage: python3 scripts/write-migration.py <up.sql> <down.sql> <ClassName> <timestamp> <file-name> "<doc comment>"
"""
import sys

up_file, down_file, name, ts, file_name, doc = sys.argv[1:7]
up = [l.rstrip(';\n') for l in open(up_file) if l.strip()]
down = [l.rstrip(';\n') for l in open(down_file) if l.strip() and not l.startswith('--')]


def lit(q):
    q = ' '.join(q.replace('`', '\\`').split()).replace(' ;', ';')
    return '    await queryRunner.query(`' + q + '`);'


cls = f'{name}{ts}'
out = f'''import type {{ MigrationInterface, QueryRunner }} from 'typeorm';

/** {doc} */
export class {cls} implements MigrationInterface {{
  name = '{cls}';

  async up(queryRunner: QueryRunner): Promise<void> {{
{chr(10).join(lit(q) for q in up)}
  }}

  async down(queryRunner: QueryRunner): Promise<void> {{
{chr(10).join(lit(q) for q in down)}
  }}
}}
'''
open(f'migrations/{ts}-{file_name}.ts', 'w').write(out)
print(f'migrations/{ts}-{file_name}.ts')
