import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { AccountsController, ContactsController, CsmsController } from './directory.controller';
import { DirectoryRepository } from './directory.repository';
import { DirectoryService } from './directory.service';
import { ImportContentTypeMiddleware } from './import/import-content-type.middleware';
import { ImportController } from './import/import.controller';
import { ImportRepository } from './import/import.repository';
import { ImportService } from './import/import.service';

@Module({
  controllers: [CsmsController, AccountsController, ContactsController, ImportController],
  providers: [DirectoryRepository, DirectoryService, ImportRepository, ImportService],
  exports: [DirectoryService, DirectoryRepository],
})
export class ContactsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(ImportContentTypeMiddleware)
      .forRoutes(
        { path: 'api/csms/import', method: RequestMethod.POST },
        { path: 'api/accounts/import', method: RequestMethod.POST },
        { path: 'api/contacts/import', method: RequestMethod.POST },
      );
  }
}
