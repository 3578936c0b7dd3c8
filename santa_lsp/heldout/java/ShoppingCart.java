import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class ShoppingCart {

    public static class Item {
        private final String sku;
        private final String title;
        private final BigDecimal unitPrice;
        private final String category;

        public Item(String sku, String title, String unitPrice, String category) {
            this.sku = sku;
            this.title = title;
            this.unitPrice = new BigDecimal(unitPrice);
            this.category = category;
        }
    }

    public interface Discount {
        BigDecimal amountOff(ShoppingCart cart);

        String describe();
    }

    public static class PercentOffCategory implements Discount {
        private final String category;
        private final int percent;

        public PercentOffCategory(String category, int percent) {
            this.category = category;
            this.percent = percent;
        }

        @Override
        public BigDecimal amountOff(ShoppingCart cart) {
            BigDecimal eligible = BigDecimal.ZERO;
            for (Map.Entry<String, Integer> line : cart.quantities.entrySet()) {
                Item item = cart.items.get(line.getKey());
                if (item.category.equals(category)) {
                    BigDecimal count = BigDecimal.valueOf(line.getValue());
                    eligible = eligible.add(item.unitPrice.multiply(count));
                }
            }
            return eligible.multiply(BigDecimal.valueOf(percent)).divide(BigDecimal.valueOf(100));
        }

        @Override
        public String describe() {
            return percent + "% off " + category;
        }
    }

    public static class BuyXGetOneFree implements Discount {
        private final String sku;
        private final int buy;

        public BuyXGetOneFree(String sku, int buy) {
            this.sku = sku;
            this.buy = buy;
        }

        @Override
        public BigDecimal amountOff(ShoppingCart cart) {
            int quantity = cart.quantityOf(sku);
            int free = quantity / (buy + 1);
            if (free == 0) {
                return BigDecimal.ZERO;
            }
            return cart.items.get(sku).unitPrice.multiply(BigDecimal.valueOf(free));
        }

        @Override
        public String describe() {
            return "buy " + buy + " get 1 free on " + sku;
        }
    }

    private final Map<String, Item> items = new LinkedHashMap<>();
    private final Map<String, Integer> quantities = new LinkedHashMap<>();
    private final List<Discount> discounts = new ArrayList<>();
    private BigDecimal taxRate = BigDecimal.ZERO;

    public void add(Item item, int quantity) {
        if (quantity <= 0) {
            throw new IllegalArgumentException("Quantity must be positive");
        }
        items.putIfAbsent(item.sku, item);
        quantities.merge(item.sku, quantity, Integer::sum);
    }

    public void remove(String sku, int quantity) {
        Integer current = quantities.get(sku);
        if (current == null) {
            return;
        }
        if (current <= quantity) {
            quantities.remove(sku);
            items.remove(sku);
        } else {
            quantities.put(sku, current - quantity);
        }
    }

    public int quantityOf(String sku) {
        return quantities.getOrDefault(sku, 0);
    }

    public void applyDiscount(Discount discount) {
        discounts.add(discount);
    }

    public void setTaxRate(String rate) {
        this.taxRate = new BigDecimal(rate);
    }

    public BigDecimal subtotal() {
        BigDecimal total = BigDecimal.ZERO;
        for (Map.Entry<String, Integer> line : quantities.entrySet()) {
            BigDecimal price = items.get(line.getKey()).unitPrice;
            total = total.add(price.multiply(BigDecimal.valueOf(line.getValue())));
        }
        return total;
    }

    public BigDecimal discountTotal() {
        BigDecimal total = BigDecimal.ZERO;
        for (Discount discount : discounts) {
            total = total.add(discount.amountOff(this));
        }
        return total.min(subtotal());
    }

    public BigDecimal total() {
        BigDecimal net = subtotal().subtract(discountTotal());
        BigDecimal tax = net.multiply(taxRate);
        return net.add(tax).setScale(2, RoundingMode.HALF_UP);
    }

    public String receipt() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Integer> line : quantities.entrySet()) {
            Item item = items.get(line.getKey());
            BigDecimal cost = item.unitPrice.multiply(BigDecimal.valueOf(line.getValue()));
            sb.append(String.format("%-24s x%-3d %8.2f%n", item.title, line.getValue(), cost));
        }
        for (Discount discount : discounts) {
            BigDecimal off = discount.amountOff(this);
            if (off.signum() > 0) {
                sb.append(String.format("%-29s -%7.2f%n", discount.describe(), off));
            }
        }
        sb.append(String.format("%-29s %8.2f%n", "TOTAL", total()));
        return sb.toString();
    }
}
