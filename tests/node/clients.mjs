// Drives the real openai-node package against mockserver and prints one JSON object: each case's result, or the
// error it threw. tests/test_clients_node.py runs it with OPENAI_BASE_URL pointing at a fresh session and asserts
// on the output; the assertions live there so that a failure names the feature that broke.
import OpenAI from 'openai';
import { ResponsesWS } from 'openai/resources/responses/ws';

const client = new OpenAI({ timeout: 20_000 });
const USER = [{ role: 'user', content: 'What is the weather in Paris?' }];
const WEATHER_PARAMETERS = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['city'],
};
const CHAT_WEATHER = { type: 'function', function: { name: 'get_weather', parameters: WEATHER_PARAMETERS } };
const RESPONSES_WEATHER = { type: 'function', name: 'get_weather', parameters: WEATHER_PARAMETERS, strict: false };

/** Iterates a raw chat stream as user code does; keeps what arrived before any error, so that faults show both. */
async function chatStream(model, extra = {}) {
  const seen = { text: '', reasoning: '', finish_reason: null, usage: null, chunks: 0, roles: [], empty_choices: 0 };
  try {
    const stream = await client.chat.completions.create({ model, messages: USER, stream: true, ...extra });
    for await (const chunk of stream) {
      seen.chunks += 1;
      seen.usage = chunk.usage ?? seen.usage;
      if (chunk.choices.length === 0) seen.empty_choices += 1;
      for (const choice of chunk.choices) {
        if (choice.delta.role) seen.roles.push(choice.delta.role);
        seen.text += choice.delta.content ?? '';
        seen.reasoning += choice.delta.reasoning_content ?? '';
        seen.finish_reason = choice.finish_reason ?? seen.finish_reason;
      }
    }
  } catch (error) {
    seen.error = describe(error);
  }
  return seen;
}

/** The ChatCompletionStream helper, whose final snapshot throws when role, ids, types or names are missing. */
async function chatHelper(model, extra = {}) {
  const stream = client.chat.completions.stream({ model, messages: USER, ...extra });
  const events = { content: 0, refusal: 0, arguments: 0, logprobs: 0 };
  stream.on('content.delta', () => (events.content += 1));
  stream.on('refusal.delta', () => (events.refusal += 1));
  stream.on('tool_calls.function.arguments.delta', () => (events.arguments += 1));
  stream.on('logprobs.content.delta', () => (events.logprobs += 1));
  const final = await stream.finalChatCompletion();
  return { events, choices: final.choices };
}

/** The Responses stream helper: every event type in order, the text deltas, and the final response. */
async function responsesHelper(model, extra = {}) {
  const stream = client.responses.stream({ model, input: 'What is the weather in Paris?', ...extra });
  const types = [];
  let deltas = '';
  stream.on('event', (event) => types.push(event.type));
  stream.on('response.output_text.delta', (event) => (deltas += event.delta));
  const final = await stream.finalResponse();
  return { types, deltas, output_text: final.output_text, status: final.status, output: final.output, usage: final.usage };
}

/** `responses.create({stream: true})`: the raw typed events, as a client without the helper sees them. */
async function responsesEvents(model) {
  const stream = await client.responses.create({ model, input: 'How do I bake bread?', stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  const last = events.at(-1);
  return {
    types: events.map((event) => event.type),
    sequence: events.map((event) => event.sequence_number),
    text: events.filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta).join(''),
    status: last.response?.status,
    incomplete_details: last.response?.incomplete_details,
  };
}

/** One turn over openai-node's WebSocket client (`ResponsesWS`, on the `ws` package): its events as they come. */
async function responsesWebSocket(model) {
  const ws = new ResponsesWS(client);
  const types = [];
  let deltas = '';
  const final = await new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('event', (event) => types.push(event.type));
    ws.on('response.output_text.delta', (event) => (deltas += event.delta));
    ws.on('response.completed', (event) => resolve(event.response));
    ws.send({ type: 'response.create', model, input: 'What is the weather in Paris?' });
  });
  ws.close();
  return { types, deltas, status: final.status, output_text: final.output[0].content[0].text, url: ws.url.href };
}

async function legacyCompletion(model) {
  const stream = await client.completions.create({ model, prompt: 'The capital of France', stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.text;
      finish = choice.finish_reason ?? finish;
    }
  }
  return { text, finish_reason: finish };
}

function describe(error) {
  return {
    name: error.constructor.name,
    message: error.message,
    status: error.status ?? null,
    type: error.type ?? null,
    code: error.code ?? null,
    request_id: error.requestID ?? null,
  };
}

const CASES = {
  chat_text: () => chatStream('finish-stop'),
  chat_usage: () => chatStream('finish-stop', { stream_options: { include_usage: true } }),
  finish_length: () => chatStream('finish-length'),
  finish_content_filter: () => chatStream('finish-content-filter'),
  helper_text: () => chatHelper('finish-stop'),
  helper_tool_call: () => chatHelper('tool-call', { tools: [CHAT_WEATHER] }),
  helper_parallel_tool_calls: () => chatHelper('parallel-tool-calls', { tools: [CHAT_WEATHER] }),
  helper_text_then_tool_call: () => chatHelper('text-then-tool-call', { tools: [CHAT_WEATHER] }),
  helper_refusal: () => chatHelper('refusal'),
  helper_logprobs: () => chatHelper('logprobs', { logprobs: true, top_logprobs: 2 }),
  helper_n_choices: () => chatHelper('three-choices', { n: 3 }),
  reasoning: () => chatStream('reasoning'),
  reasoning_raw: () => chatStream('reasoning-raw'),
  error_event: () => chatStream('fault-error-event'),
  disconnect: () => chatStream('fault-disconnect'),
  rate_limit_recovers: () => chatStream('rate-limit-recovers'),
  rate_limit: () => chatStream('rate-limit'),
  legacy_completions: () => legacyCompletion('finish-stop'),
  responses_text: () => responsesHelper('finish-stop'),
  responses_tool_call: () => responsesHelper('tool-call', { tools: [RESPONSES_WEATHER] }),
  responses_incomplete: () => responsesEvents('finish-length'),
  responses_quota: () => responsesHelper('fault-stream-quota'),
  responses_websocket: () => responsesWebSocket('finish-stop'),
};

const results = {};
for (const [name, run] of Object.entries(CASES)) {
  try {
    results[name] = await run();
  } catch (error) {
    results[name] = { error: describe(error) };
  }
}
process.stdout.write(JSON.stringify(results));
