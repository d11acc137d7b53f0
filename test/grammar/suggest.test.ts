// "Did you mean" (grammar/suggest.ts): a close spelling first, else the one name made of the same `_`-parts.
import { describe, expect, it } from 'vitest';
import { closestWord } from '../../grammar/suggest.ts';
import { DETECTOR_NAMES } from '../../plugins/redactor/detectors.ts';

describe('closestWord', () => {
  it.each([
    { note: 'a typo gets the closest spelling', word: 'emial', want: 'email' },
    { note: 'a name with an extra part gets the name it starts with', word: 'phone_number', want: 'phone' },
    { note: 'a part of a longer name gets that name', word: 'ssn', want: 'us_ssn' },
    { note: 'a longer name with a known prefix gets it', word: 'credit_card_number', want: 'credit_card' },
    { note: 'an e-mail address is the email detector', word: 'email_address', want: 'email' },
    { note: 'case does not matter', word: 'Phone_Number', want: 'phone' },
    { note: 'a part that several names share suggests none of them', word: 'token', want: undefined },
    { note: 'a word unlike every name suggests nothing', word: 'zebra', want: undefined },
  ])('$note: $word', ({ word, want }) => {
    expect(closestWord(word, DETECTOR_NAMES)).toBe(want);
  });

  it('prefers a close spelling to a shared part', () => {
    // "phone_numbr" starts with the part "phone", but it is one edit from "phone_number"
    expect(closestWord('phone_numbr', ['phone', 'phone_number'])).toBe('phone_number');
    expect(closestWord('phone_numbr', ['phone'])).toBe('phone');
  });

  it('leaves words with as many parts as a candidate to the edit distance', () => {
    // same part count: "last_name" vs "last_user" are different names, not a part of one another
    expect(closestWord('last_name', ['last_user', 'all'])).toBeUndefined();
    expect(closestWord('last', ['user', 'last_user', 'all'])).toBe('last_user');
  });
});
