import { describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../../src/config/types.js';
import { listenerSecurity } from '../../../src/downstream/smtp/listen-policy.js';
import { allowedSenders, senderRefusal } from '../../../src/downstream/smtp/sender-policy.js';
import { DEFAULT_MAX_AGE_MS, DEFAULT_RETRY_SCHEDULE_MS, retryDelay } from '../../../src/upstream/smtp/retry.js';

const account = { address: 'alice@example.test', sendAs: ['alias@example.test'] } as AccountConfig;

describe('sender policy', () => {
  it('allows the account and its send_as addresses, case-insensitively', () => {
    expect(allowedSenders(account)).toEqual(['alice@example.test', 'alias@example.test']);
    expect(senderRefusal('Alice@Example.TEST', 'alice@example.test', [account])).toBeUndefined();
    expect(senderRefusal('alias@example.test', 'alice@example.test', [account])).toBeUndefined();
  });

  it('refuses other senders, the null sender and logins of removed accounts with a readable reason', () => {
    expect(senderRefusal('boss@example.test', 'alice@example.test', [account])).toMatch(
      /<boss@example\.test> is not allowed for alice@example\.test: use alice@example\.test, alias@example\.test/,
    );
    expect(senderRefusal('', 'alice@example.test', [account])).toMatch(/needs a sender address/);
    expect(senderRefusal('alice@example.test', 'alice@example.test', [])).toMatch(/no longer configured/);
  });
});

describe('listener security', () => {
  it('loopback: cleartext AUTH; STARTTLS offered only when there is a certificate', () => {
    for (const host of ['127.0.0.1', '127.0.0.5', '::1', '[::1]', 'localhost']) {
      expect(listenerSecurity(host, false)).toEqual({ loopback: true, starttls: false, cleartextAuth: true });
      expect(listenerSecurity(host, true)).toEqual({ loopback: true, starttls: true, cleartextAuth: true });
    }
  });

  it('anything else: STARTTLS before AUTH, and a certificate is required', () => {
    expect(listenerSecurity('0.0.0.0', true)).toEqual({ loopback: false, starttls: true, cleartextAuth: false });
    expect(listenerSecurity('192.168.1.10', true).cleartextAuth).toBe(false);
    expect(() => listenerSecurity('::', false)).toThrow(
      /turn TLS on \(run `hotbridge cert`, or set smtp\.tls_cert and smtp\.tls_key\) or set smtp\.allow_plaintext_lan = true/,
    );
    expect(() => listenerSecurity('mail.example.test', false)).toThrow(/is not on loopback/);
  });

  it('allow_plaintext_lan: cleartext AUTH on the LAN, STARTTLS still offered with a certificate', () => {
    expect(listenerSecurity('192.168.1.10', false, true)).toEqual({ loopback: false, starttls: false, cleartextAuth: true });
    expect(listenerSecurity('192.168.1.10', true, true)).toEqual({ loopback: false, starttls: true, cleartextAuth: true });
  });
});

describe('retry schedule', () => {
  it('retries within a minute first, then ever later, and keeps the last delay', () => {
    expect(retryDelay(1)).toBeLessThanOrEqual(60_000);
    for (let i = 1; i < DEFAULT_RETRY_SCHEDULE_MS.length; i++)
      expect(DEFAULT_RETRY_SCHEDULE_MS[i]).toBeGreaterThan(DEFAULT_RETRY_SCHEDULE_MS[i - 1]);
    expect(retryDelay(1000)).toBe(DEFAULT_RETRY_SCHEDULE_MS.at(-1));
    expect(retryDelay(2, [10, 20, 30])).toBe(20);
    expect(DEFAULT_MAX_AGE_MS).toBe(5 * 24 * 3_600_000);
  });

  it('over 5 days, the default schedule makes a reasonable number of attempts', () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < DEFAULT_MAX_AGE_MS) elapsed += retryDelay(++attempts);
    expect(attempts).toBeGreaterThan(20);
    expect(attempts).toBeLessThan(60);
  });
});
