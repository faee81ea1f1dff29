// Tests of failure paths check the typed error a promise rejects with, then its fields.
import { expect } from 'vitest';

/** The rejection of `promise`, checked to be an `errorType` (fails the test if it resolves or rejects with something else). */
export async function rejection<E>(promise: Promise<unknown>, errorType: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(errorType);
    return error as E;
  }
  throw new Error('expected the promise to reject');
}
