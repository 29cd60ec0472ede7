// The seed's JavaScript SSE consumer, copied unchanged from section 6 of
// shared/seed/deployment-guide.md (run_consumer.mjs points its URL at the test server).
async function chat(message, threadId, onEvent) {
  const response = await fetch('https://<your-space>.hf.space/api/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ message, thread_id: threadId }),
  });

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';

  while (true) {
    const { done, value } = await reader.read();
    if (done) break;

    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split('\n');
    buffer = lines.pop();  // keep incomplete line in buffer

    let eventType = '';
    for (const line of lines) {
      if (line.startsWith('event: ')) {
        eventType = line.slice(7);
      } else if (line.startsWith('data: ')) {
        const data = JSON.parse(line.slice(6));
        onEvent(eventType, data);
      }
    }
  }
}

// Usage
chat('Find Python experts', null, (type, data) => {
  switch (type) {
    case 'model_selection':
      setStatusBar(`${data.data.emoji} ${data.data.model}`);
      break;
    case 'routing':
      setStatusBar(`Routing to ${data.data.agent}...`);
      break;
    case 'tool_start':
      addToolToTimeline(data.data.tool, 'running');
      break;
    case 'tool_end':
      updateToolInTimeline(data.data.tool, 'done');
      break;
    case 'response':
      appendMarkdown(data.data.content);
      break;
    case 'error':
      showError(data.data.message);
      break;
  }
});
