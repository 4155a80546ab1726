import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { API_ERRORS, errorBody, type ApiErrorCode } from './apiError.ts';
import { httpLimits } from './httpLimits.ts';

function errorFor(parserCode: string | undefined): { code: ApiErrorCode; message: string } {
  switch (parserCode) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        code: 'headers_too_large',
        message:
          `the request line and headers exceed ${httpLimits.maxHeaderBytes} bytes; ` +
          'use POST /v1/read-states/query for many channels (the ids go in the body)',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: 'request_timeout',
        message: `the request did not arrive in time (headers within ${httpLimits.headersTimeoutMs / 1000} s, the whole request within ${httpLimits.requestTimeoutMs / 1000} s)`,
      };
    default:
      return { code: 'invalid_request', message: 'malformed HTTP request' };
  }
}

/**
 * Answers what Node's HTTP parser refuses before a request exists (so no route or error handler runs) in the
 * API's own error shape, then closes the connection: fastify's `clientErrorHandler` option.
 */
export function clientErrorHandler(
  logger: Logger,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has no one left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, message } = errorFor(error.code);
    // Only the code: the error's rawPacket holds the request's bytes, Authorization header included.
    logger.debug({ parserCode: error.code, code }, 'client error');
    // As Node does: never write into a response already under way on this keep-alive socket.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      const status = API_ERRORS[code];
      const body = JSON.stringify(errorBody(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
