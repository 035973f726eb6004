/** One server-sent event as a browser's EventSource would dispatch it. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * Parses a text/event-stream body (the WHATWG rules, for the lines this
 * service sends): events end at a blank line, `data` lines join with "\n",
 * an event without data is never dispatched, comments count separately.
 * Only complete events (followed by their blank line) are returned.
 */
export function parseEventStream(raw: Buffer): { events: ServerSentEvent[]; comments: string[] } {
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  const text = raw.toString('utf8');
  let event = '';
  let data: string[] = [];
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split(/\r\n|\r|\n/).slice(0, -1)) {
    if (line === '') {
      if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n') });
      event = '';
      data = [];
    } else if (line.startsWith(':')) {
      comments.push(line.slice(1).trim());
    } else {
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  }
  return { events, comments };
}
