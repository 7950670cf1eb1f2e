export const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export const isLoopback = (host: string): boolean => LOOPBACK.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
