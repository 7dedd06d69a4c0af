import { useEffect, useState } from 'preact/hooks';
import type { Money } from './format.js';

export interface CartLine {
  productId: string;
  name: string;
  price: Money;
  quantity: number;
}

const KEY = 'storefront.cart';
const listeners = new Set<(lines: CartLine[]) => void>();

export function readCart(): CartLine[] {
  try {
    const lines = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(lines) ? (lines as CartLine[]) : [];
  } catch {
    return [];
  }
}

export function writeCart(lines: CartLine[]): void {
  localStorage.setItem(KEY, JSON.stringify(lines));
  for (const l of listeners) l(lines);
}

export function addToCart(line: CartLine): void {
  const lines = readCart();
  const existing = lines.find((l) => l.productId === line.productId);
  if (existing) existing.quantity += line.quantity;
  else lines.push(line);
  writeCart(lines);
}

/** The cart, kept in localStorage and shared by every component (and other tabs). */
export function useCart(): CartLine[] {
  const [lines, setLines] = useState(readCart);
  useEffect(() => {
    listeners.add(setLines);
    const fromOtherTab = (e: StorageEvent) => e.key === KEY && setLines(readCart());
    addEventListener('storage', fromOtherTab);
    return () => {
      listeners.delete(setLines);
      removeEventListener('storage', fromOtherTab);
    };
  }, []);
  return lines;
}
