import { Module } from '@nestjs/common';
import { TrackingRetentionService } from './tracking-retention.service';
import { TrackingRepository } from './tracking.repository';

/** Scheduled tracking work (worker role): retention of raw rows. */
@Module({ providers: [TrackingRepository, TrackingRetentionService] })
export class TrackingWorkerModule {}
