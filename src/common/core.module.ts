import { type DynamicModule, Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Database } from '../database/data-source.factory';
import { ApiKeyGuard } from './api-key.guard';
import { Clock } from './clock';

export const DATABASE = Symbol('DATABASE');

export interface CoreOptions {
  config: AppConfig;
  database: Database;
  clock: Clock;
}

/** Configuration, the open database and the clock, available to every module. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreOptions): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: options.config },
        { provide: DATABASE, useValue: options.database },
        { provide: DataSource, useValue: options.database.dataSource },
        { provide: Clock, useValue: options.clock },
        ApiKeyGuard,
      ],
      exports: [APP_CONFIG, DATABASE, DataSource, Clock, ApiKeyGuard],
    };
  }
}
