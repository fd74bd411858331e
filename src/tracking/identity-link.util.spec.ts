import { decideLink } from './identity-link.util';

const X = '11111111-1111-4111-8111-111111111111';
const Y = '22222222-2222-4222-8222-222222222222';

describe('decideLink', () => {
  it('links an unlinked visitor with the method given', () => {
    expect(decideLink(null, { contactId: X, method: 'verified' })).toEqual({ action: 'link', status: 'verified' });
    expect(decideLink(null, { contactId: X, method: 'unverified' })).toEqual({ action: 'link', status: 'unverified' });
  });

  it('upgrades an unverified link to the same contact when verified, and repeats change nothing', () => {
    expect(decideLink({ contactId: X, status: 'unverified' }, { contactId: X, method: 'verified' })).toEqual({
      action: 'upgrade',
    });
    expect(decideLink({ contactId: X, status: 'verified' }, { contactId: X, method: 'unverified' })).toEqual({
      action: 'noop',
    });
    expect(decideLink({ contactId: X, status: 'verified' }, { contactId: X, method: 'verified' })).toEqual({
      action: 'noop',
    });
  });

  it('never lets an unverified identify override a link, and records the conflict', () => {
    expect(decideLink({ contactId: X, status: 'verified' }, { contactId: Y, method: 'unverified' })).toEqual({
      action: 'conflict',
    });
    expect(decideLink({ contactId: X, status: 'unverified' }, { contactId: Y, method: 'unverified' })).toEqual({
      action: 'conflict',
    });
  });

  it('keeps a verified link when another verified contact appears', () => {
    expect(decideLink({ contactId: X, status: 'verified' }, { contactId: Y, method: 'verified' })).toEqual({
      action: 'conflict',
    });
  });

  it('lets proof (verified) replace a form claim (unverified), still recording it', () => {
    expect(decideLink({ contactId: X, status: 'unverified' }, { contactId: Y, method: 'verified' })).toEqual({
      action: 'relink_and_record',
      status: 'verified',
    });
  });
});
