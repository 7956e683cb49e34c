// Type tests, compiled (never run) by `npm run test:types`: the error-code unions are
// finite, so a misspelt code is a compile error. Each `@ts-expect-error` fails the build if
// the line below it ever type-checks.
import type { ErrorCode, PltapError, PltapErrorCode, SystemErrorCode } from '../../ts/index.ts'

function accepts<T>(_value: T): void {}
declare const err: PltapError

accepts<ErrorCode>('EPERM')
accepts<ErrorCode>('ERR_VSYS_SCRIPT')
accepts<ErrorCode>('UNKNOWN_ERRNO_4095')
accepts<SystemErrorCode>('EBADFD')
accepts<PltapErrorCode>('ERR_PLTAP_DEVICE_GONE')

// @ts-expect-error: a misspelt library code
accepts<ErrorCode>('ERR_VSYS_SCRIP')
// @ts-expect-error: a misspelt errno name
accepts<ErrorCode>('EPREM')
// @ts-expect-error: an errno pltap does not name is UNKNOWN_ERRNO_<n>
accepts<SystemErrorCode>('EWOULDBLOCK')
// @ts-expect-error: the unknown-errno pattern takes a number
accepts<ErrorCode>('UNKNOWN_ERRNO_x')
// @ts-expect-error: library codes are not system codes
accepts<SystemErrorCode>('ERR_PLTAP_CLOSED')
// @ts-expect-error: system codes are not library codes
accepts<PltapErrorCode>('EPERM')

export function compare(): boolean {
  // @ts-expect-error: comparing err.code with a misspelt code has no overlap
  if (err.code === 'ERR_PLTAP_CLOSD') return true
  return err.code === 'ERR_PLTAP_CLOSED' || err.code === 'ENOENT'
}

export function narrow(code: ErrorCode): string {
  switch (code) {
    case 'EPERM':
    case 'ERR_VSYS_REFUSED':
      return 'not allowed'
    // @ts-expect-error: not a code
    case 'ERR_VSYS_REFUSE':
      return 'typo'
    default:
      return code
  }
}
