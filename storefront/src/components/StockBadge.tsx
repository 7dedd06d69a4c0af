import { stockText } from '../format.js';

export function StockBadge({ stock, discontinued }: { stock: number; discontinued?: boolean }) {
  if (discontinued) return <span class="badge out">Discontinued</span>;
  return <span class={`badge ${stock <= 0 ? 'out' : stock <= 5 ? 'low' : 'ok'}`}>{stockText(stock)}</span>;
}
