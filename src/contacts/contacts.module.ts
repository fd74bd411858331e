import { Module } from '@nestjs/common';
import { AccountsController, ContactsController, CsmsController } from './directory.controller';
import { DirectoryRepository } from './directory.repository';
import { DirectoryService } from './directory.service';

@Module({
  controllers: [CsmsController, AccountsController, ContactsController],
  providers: [DirectoryRepository, DirectoryService],
  exports: [DirectoryService, DirectoryRepository],
})
export class ContactsModule {}
