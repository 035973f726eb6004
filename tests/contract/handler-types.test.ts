/**
 * The generated types hold what the contract says, checked by tsc (npm run
 * typecheck covers tests/): a handler sees defaulted request members as
 * present, SDK callers may still omit them, and a handler's result must carry
 * the headers its status requires and no header it does not declare.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ResultOf, RouteOf } from '../../generated/handlers.js';
import type { components, operations } from '../../sdk/src/types.js';

type UserSessionRead = Extract<ResultOf<'getUserSession'>, { status: 200 }>;
type FrameOk = Extract<ResultOf<'getPublicSessionFrame'>, { status: 200 }>;

describe('generated types', () => {
  it('handlers receive contract defaults as present; SDK callers may leave them out', () => {
    expectTypeOf<RouteOf<'issueToken'>['Body']['ttl_seconds']>().toEqualTypeOf<number>();
    expectTypeOf<RouteOf<'createUserSession'>['Body']['expire_seconds']>().toEqualTypeOf<number>();
    expectTypeOf<RouteOf<'createPublicSession'>['Body']['expire']>().toEqualTypeOf<string>();
    expectTypeOf<RouteOf<'listUserSessions'>['Querystring']['limit']>().toEqualTypeOf<number>();
    expectTypeOf<RouteOf<'streamPublicSession'>['Querystring']['double_frame']>().toEqualTypeOf<boolean>();
    // Members without a default stay optional for handlers too.
    expectTypeOf<RouteOf<'listUserSessions'>['Querystring']['cursor']>().toEqualTypeOf<string | undefined>();

    expectTypeOf<{ user_id: string; password: string }>().toExtend<components['schemas']['TokenRequest']>();
    expectTypeOf<{ session_id: string; template: string }>().toExtend<components['schemas']['CreatePublicSessionRequest']>();
    expectTypeOf<NonNullable<operations['listUserSessions']['parameters']['query']>['limit']>().toEqualTypeOf<number | undefined>();
  });

  it('a result must carry the headers its status requires, and only declared ones', () => {
    expectTypeOf<UserSessionRead['headers']>().toEqualTypeOf<{ etag: string; 'content-type'?: string }>();
    expectTypeOf<FrameOk['headers']['etag']>().toEqualTypeOf<string>();
    expectTypeOf<FrameOk['headers']['x-content-type-options']>().toEqualTypeOf<'nosniff'>();

    const body: UserSessionRead['body'] = {
      user_id: 'alice',
      session_id: 's',
      template: '<svg/>',
      args: {},
      created_at: '',
      updated_at: '',
      expires_at: '',
      ttl: 1,
    };
    // @ts-expect-error -- the contract requires ETag on this 200
    const withoutEtag: UserSessionRead = { status: 200, body, headers: {} };
    // @ts-expect-error -- a header this response does not declare
    const undeclared: UserSessionRead = { status: 200, body, headers: { etag: '"v"', 'x-powered-by': 'us' } };
    const declared: UserSessionRead = { status: 200, body, headers: { etag: '"v"' } };
    expectTypeOf([withoutEtag, undeclared, declared]).toBeArray();
  });
});
