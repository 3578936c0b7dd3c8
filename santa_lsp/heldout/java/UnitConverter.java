import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public class UnitConverter {

    public enum Dimension { LENGTH, MASS, VOLUME, TEMPERATURE, TIME }

    public static class Unit {
        final String symbol;
        final Dimension dimension;
        final double factor;
        final double offset;

        Unit(String symbol, Dimension dimension, double factor, double offset) {
            this.symbol = symbol;
            this.dimension = dimension;
            this.factor = factor;
            this.offset = offset;
        }

        double toBase(double value) {
            return (value + offset) * factor;
        }

        double fromBase(double value) {
            return value / factor - offset;
        }
    }

    public static class Quantity {
        private final double value;
        private final Unit unit;

        Quantity(double value, Unit unit) {
            this.value = value;
            this.unit = unit;
        }

        public double getValue() {
            return value;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%.4g %s", value, unit.symbol);
        }
    }

    private final Map<String, Unit> units = new HashMap<>();
    private final Map<String, String> aliases = new HashMap<>();

    public UnitConverter() {
        register("m", Dimension.LENGTH, 1.0);
        register("km", Dimension.LENGTH, 1000.0);
        register("cm", Dimension.LENGTH, 0.01);
        register("mi", Dimension.LENGTH, 1609.344);
        register("ft", Dimension.LENGTH, 0.3048);
        register("kg", Dimension.MASS, 1.0);
        register("g", Dimension.MASS, 0.001);
        register("lb", Dimension.MASS, 0.45359237);
        register("l", Dimension.VOLUME, 1.0);
        register("ml", Dimension.VOLUME, 0.001);
        register("s", Dimension.TIME, 1.0);
        register("min", Dimension.TIME, 60.0);
        register("h", Dimension.TIME, 3600.0);
        units.put("K", new Unit("K", Dimension.TEMPERATURE, 1.0, 0.0));
        units.put("C", new Unit("C", Dimension.TEMPERATURE, 1.0, 273.15));
        units.put("F", new Unit("F", Dimension.TEMPERATURE, 5.0 / 9.0, 459.67));
        alias("meter", "m");
        alias("kilometer", "km");
        alias("pound", "lb");
        alias("celsius", "C");
        alias("fahrenheit", "F");
    }

    public void register(String symbol, Dimension dimension, double factor) {
        if (factor <= 0) {
            throw new IllegalArgumentException("Factor must be positive for " + symbol);
        }
        units.put(symbol, new Unit(symbol, dimension, factor, 0.0));
    }

    public void alias(String name, String symbol) {
        if (!units.containsKey(symbol)) {
            throw new IllegalArgumentException("Unknown unit: " + symbol);
        }
        aliases.put(name.toLowerCase(Locale.ROOT), symbol);
    }

    public Unit lookup(String name) {
        Unit unit = units.get(name);
        if (unit != null) {
            return unit;
        }
        String key = name.toLowerCase(Locale.ROOT);
        String symbol = aliases.getOrDefault(key, aliases.get(key.replaceAll("s$", "")));
        if (symbol == null) {
            throw new IllegalArgumentException("Unknown unit: " + name);
        }
        return units.get(symbol);
    }

    public double convert(double value, String from, String to) {
        Unit source = lookup(from);
        Unit target = lookup(to);
        if (source.dimension != target.dimension) {
            throw new IllegalArgumentException(
                    "Cannot convert " + source.dimension + " to " + target.dimension);
        }
        return target.fromBase(source.toBase(value));
    }

    public Quantity parse(String text) {
        String trimmed = text.trim();
        int split = 0;
        while (split < trimmed.length()) {
            char c = trimmed.charAt(split);
            if (!Character.isDigit(c) && c != '.' && c != '-' && c != '+') {
                break;
            }
            split++;
        }
        if (split == 0) {
            throw new IllegalArgumentException("Missing number in: " + text);
        }
        double value = Double.parseDouble(trimmed.substring(0, split));
        return new Quantity(value, lookup(trimmed.substring(split).trim()));
    }

    public Quantity convertText(String text, String to) {
        Quantity quantity = parse(text);
        double value = convert(quantity.value, quantity.unit.symbol, to);
        return new Quantity(value, lookup(to));
    }

    public List<String> unitsFor(Dimension dimension) {
        List<String> result = new ArrayList<>();
        for (Unit unit : units.values()) {
            if (unit.dimension == dimension) {
                result.add(unit.symbol);
            }
        }
        result.sort(String::compareTo);
        return result;
    }

    public static void main(String[] args) {
        UnitConverter converter = new UnitConverter();
        System.out.println(converter.convertText("26.2 mi", "km"));
        System.out.println(converter.convertText("98.6 F", "C"));
        System.out.println(converter.unitsFor(Dimension.LENGTH));
    }
}
